import { sodium } from '../crypto/sodium';
import { VaultError } from './errors';

/** Argon2id cost parameters (libsodium's opslimit, and memlimit in bytes). */
export interface Argon2Params {
  readonly opsLimit: number;
  readonly memLimit: number;
}

/** libsodium's interactive Argon2id cost (2 passes, 64 MiB): the default for new files, ~0.3 s. */
export const ARGON2ID_INTERACTIVE: Argon2Params = { opsLimit: 2, memLimit: 64 * 1024 * 1024 };

/** libsodium's minimum Argon2id cost (1 pass, 8 KiB). Only for tests: it barely slows down guessing. */
export const ARGON2ID_MIN: Argon2Params = { opsLimit: 1, memLimit: 8 * 1024 };

/**
 * The most Argon2id work a vault file may ask for, writing or reading. A header is not authenticated before
 * Argon2id has run (the key check needs its output), so whoever can write the file can set its cost: these
 * caps keep a forged header to about a second of CPU and 128 MiB (measured ~0.5-0.7 s for the largest
 * allowed costs on a loaded 2-core machine, against ~0.3-0.7 s for `ARGON2ID_INTERACTIVE`). Above them,
 * opening fails with `KDF_TOO_COSTLY` before any work.
 */
export const ARGON2ID_MAX = Object.freeze({
  /** Passes. */
  opsLimit: 16,
  /** Bytes of memory. */
  memLimit: 128 * 1024 * 1024,
  /** opsLimit × memLimit: twice the work of `ARGON2ID_INTERACTIVE` (4 passes over 64 MiB, or 2 over 128). */
  cost: 4 * 64 * 1024 * 1024,
});

/** How the application unlocks a file vault: a passphrase (Argon2id) or a 32-byte key of its own. */
export type FileVaultSecret = { readonly passphrase: string | Uint8Array } | { readonly key: Uint8Array };

export const KDF_ARGON2ID = 1;
export const KDF_NONE = 2;
/** Bytes of the Argon2id salt. */
export const SALT_LENGTH = 16;

// crypto_kdf context and subkey ids: one master secret (Argon2id output or the application key) gives the
// body encryption key and an independent key-check value, so checking the secret never reveals the key.
const KDF_CONTEXT = 'SRVAULT1';
const SUBKEY_ENCRYPTION = 1;
const SUBKEY_CHECK = 2;

/** What a file's secret unlocks: the header fields that stay fixed for the file's life, and the derived keys. */
export interface FileKeys {
  readonly kdf: typeof KDF_ARGON2ID | typeof KDF_NONE;
  readonly params: Argon2Params;
  readonly salt: Uint8Array;
  readonly encryptionKey: Uint8Array;
  readonly keyCheck: Uint8Array;
}

/** Checks a caller's secret before any file is touched. */
export function checkSecret(secret: FileVaultSecret): void {
  if ('key' in secret) {
    if (!(secret.key instanceof Uint8Array) || secret.key.length !== 32) {
      throw new VaultError('INVALID_ARGUMENT', 'a vault key must be 32 bytes');
    }
  } else if (!('passphrase' in secret) || secret.passphrase.length === 0) {
    throw new VaultError('INVALID_ARGUMENT', 'a vault passphrase must not be empty');
  }
}

/**
 * Checks Argon2id parameters: below libsodium's minimum or not integers is `INVALID_ARGUMENT`, above
 * `ARGON2ID_MAX` is `KDF_TOO_COSTLY`.
 */
export function checkParams(params: Argon2Params): void {
  const s = sodium();
  const valid =
    Number.isInteger(params.opsLimit) &&
    Number.isInteger(params.memLimit) &&
    params.opsLimit >= s.crypto_pwhash_OPSLIMIT_MIN &&
    params.memLimit >= s.crypto_pwhash_MEMLIMIT_MIN;
  if (!valid) {
    throw new VaultError(
      'INVALID_ARGUMENT',
      `Argon2id parameters out of range: opsLimit >= ${s.crypto_pwhash_OPSLIMIT_MIN}, memLimit >= ${s.crypto_pwhash_MEMLIMIT_MIN}`,
    );
  }
  if (
    params.opsLimit > ARGON2ID_MAX.opsLimit ||
    params.memLimit > ARGON2ID_MAX.memLimit ||
    params.opsLimit * params.memLimit > ARGON2ID_MAX.cost
  ) {
    throw new VaultError(
      'KDF_TOO_COSTLY',
      `Argon2id cost ${params.opsLimit} passes over ${params.memLimit} bytes is above the cap ` +
        `(opsLimit <= ${ARGON2ID_MAX.opsLimit}, memLimit <= ${ARGON2ID_MAX.memLimit}, ` +
        `opsLimit x memLimit <= ${ARGON2ID_MAX.cost})`,
    );
  }
}

/** Keys for a new file: a fresh salt when a passphrase is used. */
export function newFileKeys(secret: FileVaultSecret, params: Argon2Params): FileKeys {
  if ('key' in secret) {
    return deriveFileKeys(secret, KDF_NONE, { opsLimit: 0, memLimit: 0 }, new Uint8Array(SALT_LENGTH));
  }
  checkParams(params);
  return deriveFileKeys(secret, KDF_ARGON2ID, params, sodium().randombytes_buf(SALT_LENGTH));
}

/** The keys `secret` gives for a file of these header fields (Argon2id runs here for a passphrase). */
export function deriveFileKeys(
  secret: FileVaultSecret,
  kdf: FileKeys['kdf'],
  params: Argon2Params,
  salt: Uint8Array,
): FileKeys {
  const s = sodium();
  const master =
    'key' in secret
      ? secret.key.slice()
      : s.crypto_pwhash(
          32,
          secret.passphrase,
          salt,
          params.opsLimit,
          params.memLimit,
          s.crypto_pwhash_ALG_ARGON2ID13,
        );
  try {
    return {
      kdf,
      params,
      salt,
      encryptionKey: s.crypto_kdf_derive_from_key(32, SUBKEY_ENCRYPTION, KDF_CONTEXT, master),
      keyCheck: s.crypto_kdf_derive_from_key(32, SUBKEY_CHECK, KDF_CONTEXT, master),
    };
  } finally {
    s.memzero(master);
  }
}

/** Wipes the derived keys. */
export function wipeFileKeys(keys: FileKeys): void {
  sodium().memzero(keys.encryptionKey);
  sodium().memzero(keys.keyCheck);
}
