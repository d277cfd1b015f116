/**
 * Where an application's vaults live by default (`FileVault.openInHome`): one directory, mode 0700, holding
 * `<name>.vault` and, unless a passphrase is given, `<name>.key`, the vault's 32-byte application key
 * (mode 0600, made on first use). The key file beside the vault means that the vault is exactly as safe as
 * the directory's permissions, like an ssh key without a passphrase: it keeps the keys out of backups that
 * skip the key file and off other users, nothing more. A passphrase (`SEALROUTE_PASSPHRASE`) is what protects
 * a vault whose files are copied.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { errnoCode } from './errno';
import { VaultError } from './errors';
import type { FileVaultSecret } from './file-keys';

/** The home directory when neither an option nor `SEALROUTE_HOME` names one (relative to the working directory). */
export const DEFAULT_HOME = '.sealroute';

/** Vault names: letters, digits, `_` and `-`, so that a name can never leave the home directory. */
const VAULT_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const KEY_LENGTH = 32;

/** Where `openInHome` looks, and how it unlocks the vault. */
export interface VaultHomeOptions {
  /** The directory. Default: `$SEALROUTE_HOME`, else `./.sealroute`. */
  readonly home?: string;
  /**
   * The vault's secret. Default: `$SEALROUTE_PASSPHRASE` if set (Argon2id), else the key file
   * `<home>/<name>.key`, made with 32 random bytes and mode 0600 if it does not exist.
   */
  readonly secret?: FileVaultSecret;
}

/** The vault file's path and its secret, the home directory made (0700) if need be. */
export async function homeVault(
  name: string,
  options: VaultHomeOptions,
): Promise<{ path: string; secret: FileVaultSecret }> {
  if (!VAULT_NAME.test(name)) {
    throw new VaultError('INVALID_ARGUMENT', 'a vault name is 1..64 of A-Z a-z 0-9 _ -');
  }
  const home = resolve(options.home ?? process.env.SEALROUTE_HOME ?? DEFAULT_HOME);
  try {
    await mkdir(home, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new VaultError('IO', `cannot create ${home}`, { cause });
  }
  const path = join(home, `${name}.vault`);
  const passphrase = process.env.SEALROUTE_PASSPHRASE;
  const secret =
    options.secret ??
    (passphrase !== undefined && passphrase !== ''
      ? { passphrase }
      : { key: await keyFile(join(home, `${name}.key`)) });
  return { path, secret };
}

/** The 32-byte key in `path`, made if absent; refused if others may read it or it is not 32 bytes. */
async function keyFile(path: string): Promise<Uint8Array> {
  try {
    const handle = await open(path, 'wx', 0o600);
    const key = randomBytes(KEY_LENGTH);
    try {
      await handle.chmod(0o600);
      await handle.writeFile(key);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return new Uint8Array(key);
  } catch (error) {
    if (errnoCode(error) !== 'EEXIST') throw new VaultError('IO', `cannot create ${path}`, { cause: error });
  }
  let info;
  try {
    info = await lstat(path);
  } catch (cause) {
    throw new VaultError('IO', `cannot stat ${path}`, { cause });
  }
  if (!info.isFile()) throw new VaultError('IO', `${path} is not a regular file`);
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    throw new VaultError(
      'INSECURE_PERMISSIONS',
      `${path} is accessible to group or others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 on it`,
    );
  }
  const bytes = await readFile(path).catch((cause: unknown) => {
    throw new VaultError('IO', `cannot read ${path}`, { cause });
  });
  if (bytes.length !== KEY_LENGTH) {
    throw new VaultError('CORRUPT_FILE', `${path} must hold exactly ${KEY_LENGTH} bytes`);
  }
  return new Uint8Array(bytes);
}
