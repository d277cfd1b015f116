/**
 * A vault persisted to one file, with every secret encrypted at rest.
 *
 * ## File format, version 1 (all integers big-endian)
 * ```
 * offset  size  field
 *      0     8  magic "SRVAULT\0" (53 52 56 41 55 4c 54 00)
 *      8     1  version = 1
 *      9     1  kdf: 1 = Argon2id v1.3 over a passphrase, 2 = none (a 32-byte application key)
 *     10     4  Argon2id opslimit (0 for kdf 2)
 *     14     4  Argon2id memlimit in bytes (0 for kdf 2)
 *     18    16  Argon2id salt (zero for kdf 2); fixed for the life of the file
 *     34    24  XChaCha20-Poly1305 nonce, fresh random on every write
 *     58    32  key check = crypto_kdf_derive_from_key(32, id 2, ctx "SRVAULT1", master)
 *     90    16  header checksum = BLAKE2b-128(bytes 0..89)
 *    106     n  body ciphertext || 16-byte tag: XChaCha20-Poly1305 with
 *               key = crypto_kdf_derive_from_key(32, id 1, ctx "SRVAULT1", master), ad = bytes 0..105
 * ```
 * `master` is Argon2id(passphrase, salt, opslimit, memlimit) with a 32-byte output, or the application key.
 *
 * Body (plaintext): u32 key count, then per key: u8 type (1 = X25519, 2 = Ed25519), u8 id length, the id in
 * UTF-8, and the 32-byte secret (the X25519 private scalar, or the Ed25519 seed of RFC 8032). Public keys are
 * recomputed from the secrets on load. A binary body, rather than JSON, keeps secrets in byte arrays that can
 * be wiped instead of immutable strings.
 *
 * ## How opening a file fails
 * - `CORRUPT_FILE`: bad magic (including random garbage and an empty file), a truncated file, a header
 *   checksum mismatch (any damaged header byte, including the key check), KDF parameters below the minimum,
 *   an AEAD tag failure once the key check has matched (any damaged body byte), or a malformed body.
 * - `KDF_TOO_COSTLY`: a header asking for more Argon2id work than `ARGON2ID_MAX` (about a second); refused
 *   before any Argon2id runs, so a forged header cannot pin a CPU or allocate gigabytes.
 * - `UNSUPPORTED_VERSION`: a version byte above 1 (checked before the checksum, whose position a later
 *   version may move; so a version byte damaged to a higher value reads as this rather than as corrupt).
 * - `WRONG_PASSPHRASE`: the checksum is good but the key check does not match the secret given, or a key was
 *   given for a passphrase file (or the reverse). A deliberate forger who recomputes the checksum can make a
 *   damaged file read as a wrong passphrase; random damage cannot.
 * No check ever yields keys from a damaged file: the AEAD tag covers the whole header and body.
 *
 * ## Writes, locking, permissions
 * Each `generateKey` (non-ephemeral) and `deleteKey` rewrites the whole file atomically (temp file, fsync,
 * rename, directory fsync; see `atomic-file.ts`), serialised in one queue, and changes the in-memory key set
 * only once the write succeeded. A crash leaves the old or the new file. The file is created 0600, and an
 * existing file readable or writable by group or others is refused (`INSECURE_PERMISSIONS`), as ssh does.
 * `<path>.lock` keeps a second opener out (`LOCKED`); see `file-lock.ts`.
 */
import { lstat, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { removeStaleTempFiles, writeFileAtomic } from './atomic-file';
import { errnoCode } from './errno';
import { VaultError } from './errors';
import { encodeFile, unlockFile } from './file-format';
import {
  ARGON2ID_INTERACTIVE,
  checkParams,
  checkSecret,
  wipeFileKeys,
  type Argon2Params,
  type FileKeys,
  type FileVaultSecret,
} from './file-keys';
import type { StoredKey } from './key-records';
import { FileLock } from './file-lock';
import type { KeyEntry } from './key-store';
import { PersistentKeyStoreVault } from './key-store-vault';
import { sodium, sodiumReady } from '../crypto/sodium';
import { homeVault, type VaultHomeOptions } from './vault-home';

/** Options for `FileVault.open`. */
export interface FileVaultOptions {
  /**
   * Argon2id cost for a NEW passphrase-protected file (default `ARGON2ID_INTERACTIVE`, about 0.3 s). An
   * existing file is opened with the cost recorded in its header. Tests may pass `ARGON2ID_MIN`.
   */
  readonly kdf?: Argon2Params;
}

/**
 * A persistent vault in one encrypted file (format above). Open it with `FileVault.open`; `close` it to
 * release the lock and wipe the keys. Ephemeral keys live in memory only.
 */
export class FileVault extends PersistentKeyStoreVault {
  // Secrets live in #private fields: no spread, Object.entries, structuredClone or printout reaches them.
  readonly #fileKeys: FileKeys;
  private closed = false;

  private constructor(
    /** The absolute path of the vault file. */
    readonly path: string,
    private readonly lock: FileLock,
    fileKeys: FileKeys,
  ) {
    super();
    this.#fileKeys = fileKeys;
  }

  /** What printouts show: the path, the key count and whether it is open; never a key. */
  protected override describe(): Record<string, unknown> {
    return { path: this.path, keys: this.closed ? 0 : this.keys.size, closed: this.closed };
  }

  /**
   * Opens the vault file at `path`, creating it (with no keys) if it does not exist, unlocked by a passphrase
   * or a 32-byte application key. Takes `<path>.lock` for as long as the vault is open.
   *
   * Throws `VaultError`: `INVALID_ARGUMENT`, `LOCKED`, `WRONG_PASSPHRASE`, `CORRUPT_FILE`,
   * `UNSUPPORTED_VERSION`, `INSECURE_PERMISSIONS` or `IO`. Argon2id runs synchronously (it blocks the event
   * loop for its duration).
   */
  static async open(
    path: string,
    secret: FileVaultSecret,
    options: FileVaultOptions = {},
  ): Promise<FileVault> {
    await sodiumReady();
    checkSecret(secret);
    const params = options.kdf ?? ARGON2ID_INTERACTIVE;
    checkParams(params);
    const absolute = resolve(path);
    const lock = await FileLock.acquire(`${absolute}.lock`);
    let fileKeys: FileKeys | undefined;
    let stored: StoredKey[] = [];
    try {
      const existing = await readVaultFile(absolute);
      const unlocked = unlockFile(existing, secret, params);
      ({ fileKeys, keys: stored } = unlocked);
      if (existing === undefined) {
        await io(`cannot create ${absolute}`, writeFileAtomic(absolute, encodeFile(unlocked.fileKeys, [])));
      }
      // Holding the lock, no other writer can have a temp file in flight: any left are from a crash.
      await io(`cannot clean up after ${absolute}`, removeStaleTempFiles(absolute));
      const vault = new FileVault(absolute, lock, fileKeys);
      vault.adopt(stored);
      return vault;
    } catch (error) {
      if (fileKeys !== undefined) {
        wipeFileKeys(fileKeys);
      }
      await lock.release().catch(() => undefined);
      throw error;
    } finally {
      stored.forEach((key) => sodium().memzero(key.secret));
    }
  }

  /**
   * Opens (or creates) the application's vault `name` in its home directory: `<home>/<name>.vault`, where
   * home is `options.home`, else `$SEALROUTE_HOME`, else `./.sealroute` (made with mode 0700). Unlocked by
   * `options.secret`, else `$SEALROUTE_PASSPHRASE`, else the key file `<home>/<name>.key` (32 random bytes,
   * mode 0600, made on first use; see `vault-home.ts` for what that protects). The same name opens the same
   * keys after a restart. Throws like `open`, and `INSECURE_PERMISSIONS` for a key file others may read.
   */
  static async openInHome(
    name: string,
    options: VaultHomeOptions & FileVaultOptions = {},
  ): Promise<FileVault> {
    const { path, secret } = await homeVault(name, options);
    return FileVault.open(path, secret, options);
  }

  /**
   * Waits for pending writes, wipes every key and the file keys, and releases the lock. Idempotent; every
   * key operation afterwards throws `CLOSED` (the stateless primitives keep working).
   */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    await this.writesSettled();
    this.keys.clear();
    wipeFileKeys(this.#fileKeys);
    await this.lock.release();
  }

  protected override checkOpen(): void {
    if (this.closed) {
      throw new VaultError('CLOSED', `the vault ${this.path} is closed`);
    }
  }

  /** Writes the file holding exactly the non-ephemeral keys among `entries`. */
  protected async persist(entries: readonly KeyEntry[]): Promise<void> {
    const stored = entries.filter((entry) => !entry.ephemeral);
    const file = encodeFile(this.#fileKeys, stored);
    await io(`cannot write ${this.path}`, writeFileAtomic(this.path, file));
  }
}

/** The file's bytes, or undefined if it does not exist. Refuses anything but a private regular file. */
async function readVaultFile(path: string): Promise<Uint8Array | undefined> {
  let info;
  try {
    info = await lstat(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') {
      return undefined;
    }
    throw new VaultError('IO', `cannot stat ${path}`, { cause: error });
  }
  if (!info.isFile()) {
    // Symlinks included: the atomic rename of every write would replace the link with a file.
    throw new VaultError('IO', `${path} is not a regular file`);
  }
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    throw new VaultError(
      'INSECURE_PERMISSIONS',
      `${path} is accessible to group or others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 on it`,
    );
  }
  return io(`cannot read ${path}`, readFile(path));
}

/** Awaits `operation`, wrapping a file system failure in `VaultError` `IO` (a VaultError passes through). */
async function io<T>(message: string, operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    throw error instanceof VaultError ? error : new VaultError('IO', message, { cause: error });
  }
}
