/**
 * An advisory, exclusive lock on a vault file: `<path>.lock`, created with O_CREAT|O_EXCL, holding the
 * owner's pid in decimal. Every FileVault takes it, so two openers (in one process or two) never both write.
 *
 * A lock whose pid is dead is stale (its owner crashed or was killed) and is taken over. Limits: pids are only
 * meaningful on one host and in one pid namespace, so the lock does not protect a file shared over a network
 * file system or between containers.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { errnoCode } from './errno';
import { VaultError } from './errors';

// Lock files this process holds, by absolute path: a lock with our own pid that is not in here is stale (a
// previous process that had our pid).
const heldHere = new Set<string>();

// A lock file with no readable pid yet may belong to a process between its O_EXCL create and its write.
// After this long it is taken to be the remains of a process that died in between.
const UNWRITTEN_LOCK_GRACE_MS = 5_000;

// Takeover can race with other processes doing the same; a few rounds settle it one way or the other.
const MAX_ATTEMPTS = 5;

interface Holder {
  readonly content: string;
  readonly pid: number | undefined;
  readonly ino: number;
  readonly mtimeMs: number;
}

/** A held lock file; `release` removes it. */
export class FileLock {
  private released = false;

  private constructor(readonly lockPath: string) {}

  /**
   * Takes the lock at `lockPath` (an absolute path), taking over a stale one. `LOCKED` if a live process
   * (this one included) holds it, `IO` if the file system fails.
   */
  static async acquire(lockPath: string): Promise<FileLock> {
    if (heldHere.has(lockPath)) {
      throw locked(lockPath, process.pid);
    }
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (await tryCreate(lockPath)) {
        heldHere.add(lockPath);
        return new FileLock(lockPath);
      }
      const holder = await readHolder(lockPath);
      if (holder === undefined) {
        continue; // released meanwhile: try again
      }
      if (isAlive(lockPath, holder)) {
        throw locked(lockPath, holder.pid);
      }
      // Stale. Move it aside (atomic), then check that what moved is the stale lock we judged; if another
      // process took the lock over in between, what moved is its live lock, which goes back.
      const aside = `${lockPath}.stale-${process.pid}-${randomBytes(8).toString('hex')}`;
      try {
        await rename(lockPath, aside);
      } catch (error) {
        if (errnoCode(error) === 'ENOENT') {
          continue;
        }
        throw io(`cannot remove the stale lock ${lockPath}`, error);
      }
      const moved = await readHolder(aside);
      if (moved !== undefined && (moved.ino !== holder.ino || moved.content !== holder.content)) {
        await link(aside, lockPath).catch(() => undefined); // EEXIST: yet another process holds it now
        await unlink(aside).catch(() => undefined);
        throw locked(lockPath, moved.pid);
      }
      await unlink(aside).catch(() => undefined);
    }
    throw locked(lockPath, undefined);
  }

  /** Removes the lock file, if it is still ours. Idempotent. */
  async release(): Promise<void> {
    if (this.released) {
      return;
    }
    this.released = true;
    heldHere.delete(this.lockPath);
    const holder = await readHolder(this.lockPath);
    if (holder?.pid === process.pid) {
      try {
        await unlink(this.lockPath);
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') {
          throw io(`cannot remove the lock ${this.lockPath}`, error);
        }
      }
    }
  }
}

async function tryCreate(lockPath: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(lockPath, 'wx', 0o600);
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') {
      return false;
    }
    throw io(`cannot create the lock ${lockPath}`, error);
  }
  try {
    await handle.writeFile(`${process.pid}\n`);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(lockPath).catch(() => undefined);
    throw io(`cannot write the lock ${lockPath}`, error);
  }
  await handle.close();
  return true;
}

/** The lock's content and identity, or undefined if there is no lock file. */
async function readHolder(lockPath: string): Promise<Holder | undefined> {
  try {
    const [content, info] = await Promise.all([readFile(lockPath, 'utf8'), stat(lockPath)]);
    const trimmed = content.trim();
    const pid = /^[1-9][0-9]{0,9}$/.test(trimmed) ? Number(trimmed) : undefined;
    return { content, pid, ino: info.ino, mtimeMs: info.mtimeMs };
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') {
      return undefined;
    }
    throw io(`cannot read the lock ${lockPath}`, error);
  }
}

function isAlive(lockPath: string, holder: Holder): boolean {
  if (holder.pid === undefined) {
    return Date.now() - holder.mtimeMs < UNWRITTEN_LOCK_GRACE_MS;
  }
  if (holder.pid === process.pid) {
    return heldHere.has(lockPath);
  }
  try {
    process.kill(holder.pid, 0); // signal 0: existence check only
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return errnoCode(error) !== 'ESRCH';
  }
}

function locked(lockPath: string, pid: number | undefined): VaultError {
  const by = pid === undefined ? 'another process' : pid === process.pid ? 'this process' : `process ${pid}`;
  return new VaultError('LOCKED', `the vault is open elsewhere: ${lockPath} is held by ${by}`);
}

function io(message: string, cause: unknown): VaultError {
  return new VaultError('IO', message, { cause });
}
