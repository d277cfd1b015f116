import { SealrouteError } from '../core/errors';

/**
 * What went wrong in a vault. Callers branch on these, never on message text.
 *
 * - `KEY_NOT_FOUND`: no key with that id (never generated, deleted, or an ephemeral key after a reopen).
 * - `WRONG_KEY_TYPE`: an X25519 key used to sign, or an Ed25519 key used for Diffie-Hellman.
 * - `INVALID_ARGUMENT`: a caller error, such as a key or nonce of the wrong length or an HKDF length out of range.
 * - `INVALID_PUBLIC_KEY`: a peer's X25519 public key of the wrong length or of low order (all-zero secret).
 * - `DECRYPT_FAILED`: an AEAD tag did not verify. Deliberately says nothing more (wrong key, nonce, data or
 *   associated data all look the same), so nothing can be learnt from it.
 * - `WRONG_PASSPHRASE`: the passphrase or application key does not open this vault file.
 * - `CORRUPT_FILE`: the vault file is truncated, damaged or not a vault file at all.
 * - `UNSUPPORTED_VERSION`: the vault file was written by a newer format version.
 * - `KDF_TOO_COSTLY`: the Argon2id cost asked for (by a file's header, or for a new file) is above the cap
 *   (`ARGON2ID_MAX`), so that a forged header cannot make opening a file cost more than about a second.
 * - `INSECURE_PERMISSIONS`: the vault file is readable or writable by group or others.
 * - `LOCKED`: another vault (in this or another process) has the file open.
 * - `CLOSED`: the vault was closed.
 * - `IO`: the file system failed; the underlying error is the `cause`.
 */
export const VAULT_ERROR_CODES = [
  'KEY_NOT_FOUND',
  'WRONG_KEY_TYPE',
  'INVALID_ARGUMENT',
  'INVALID_PUBLIC_KEY',
  'DECRYPT_FAILED',
  'WRONG_PASSPHRASE',
  'CORRUPT_FILE',
  'UNSUPPORTED_VERSION',
  'KDF_TOO_COSTLY',
  'INSECURE_PERMISSIONS',
  'LOCKED',
  'CLOSED',
  'IO',
] as const;

/** Every code a `VaultError` carries (see above). */
export type VaultErrorCode = (typeof VAULT_ERROR_CODES)[number];

/** Every failure a vault reports: origin `vault`, told apart by `code`. */
export class VaultError extends SealrouteError<VaultErrorCode> {
  override readonly name = 'VaultError';

  constructor(code: VaultErrorCode, message: string, options?: { cause?: unknown }) {
    super('vault', code, message, options);
  }
}

/** Whether `error` is a `VaultError`, optionally with the given code. */
export function isVaultError(error: unknown, code?: VaultErrorCode): error is VaultError {
  return error instanceof VaultError && (code === undefined || error.code === code);
}

/** A `CORRUPT_FILE` error: the vault file is truncated, damaged or not a vault file. */
export function corruptFile(message: string, cause?: unknown): VaultError {
  return new VaultError(
    'CORRUPT_FILE',
    `corrupt vault file: ${message}`,
    cause === undefined ? {} : { cause },
  );
}
