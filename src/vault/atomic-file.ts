/**
 * Crash-safe replacement of a small file: write a temporary file in the same directory, fsync it, rename it
 * over the target (atomic on POSIX), fsync the directory so the rename itself is durable. A crash at any point
 * leaves either the old or the new content under the target name, never a mixture.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const TEMP_INFIX = '.tmp-';

/** Replaces `path` with `data`, mode 0600. Throws the file system's error; the temp file is removed. */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const temp = `${path}${TEMP_INFIX}${process.pid}-${randomBytes(8).toString('hex')}`;
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      // The umask can only clear bits, but be explicit: the file holds (encrypted) secrets.
      await handle.chmod(0o600);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dirname(path));
}

/**
 * Removes temp files a crashed writer of `path` left behind. Only safe while holding the file's lock, since
 * then no other writer can have one in flight.
 */
export async function removeStaleTempFiles(path: string): Promise<void> {
  const prefix = basename(path) + TEMP_INFIX;
  const pattern = /^\d+-[0-9a-f]{16}$/;
  for (const name of await readdir(dirname(path))) {
    if (name.startsWith(prefix) && pattern.test(name.slice(prefix.length))) {
      await unlink(join(dirname(path), name)).catch(() => undefined);
    }
  }
}

async function syncDirectory(directory: string): Promise<void> {
  if (process.platform === 'win32') {
    return; // directories cannot be opened for fsync there; NTFS renames are journaled
  }
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
