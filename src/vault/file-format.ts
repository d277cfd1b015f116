/**
 * Encoding of a vault file: a fixed header, then the key set encrypted with XChaCha20-Poly1305. The layout is
 * documented at the top of `file-vault.ts`; this module is the only code that reads or writes it.
 */
import { sodium } from '../crypto/sodium';
import { corruptFile, VaultError } from './errors';
import {
  checkParams,
  deriveFileKeys,
  KDF_ARGON2ID,
  KDF_NONE,
  newFileKeys,
  SALT_LENGTH,
  wipeFileKeys,
  type Argon2Params,
  type FileKeys,
  type FileVaultSecret,
} from './file-keys';
import { decodeBody, encodeBody, type StoredKey } from './key-records';

export const MAGIC = new Uint8Array([0x53, 0x52, 0x56, 0x41, 0x55, 0x4c, 0x54, 0x00]); // "SRVAULT\0"
export const FORMAT_VERSION = 1;

/** Byte offsets of the v1 header fields. */
export const HEADER = {
  magic: 0,
  version: 8,
  kdf: 9,
  opsLimit: 10,
  memLimit: 14,
  salt: 18,
  nonce: 34,
  keyCheck: 58,
  checksum: 90,
  length: 106,
} as const;
const NONCE_LENGTH = 24;
const CHECKSUM_LENGTH = 16;
const TAG_LENGTH = 16;

/** A whole file: header with a fresh nonce, then the encrypted body of `keys`. */
export function encodeFile(fileKeys: FileKeys, keys: readonly StoredKey[]): Uint8Array {
  const s = sodium();
  const header = new Uint8Array(HEADER.length);
  const view = new DataView(header.buffer);
  header.set(MAGIC, HEADER.magic);
  header[HEADER.version] = FORMAT_VERSION;
  header[HEADER.kdf] = fileKeys.kdf;
  view.setUint32(HEADER.opsLimit, fileKeys.params.opsLimit);
  view.setUint32(HEADER.memLimit, fileKeys.params.memLimit);
  header.set(fileKeys.salt, HEADER.salt);
  // XChaCha20's 192-bit nonce is safe to draw at random for every write.
  const nonce = s.randombytes_buf(NONCE_LENGTH);
  header.set(nonce, HEADER.nonce);
  header.set(fileKeys.keyCheck, HEADER.keyCheck);
  header.set(headerChecksum(header), HEADER.checksum);

  const body = encodeBody(keys);
  try {
    const ciphertext = s.crypto_aead_xchacha20poly1305_ietf_encrypt(
      body,
      header,
      null,
      nonce,
      fileKeys.encryptionKey,
    );
    const file = new Uint8Array(header.length + ciphertext.length);
    file.set(header, 0);
    file.set(ciphertext, header.length);
    return file;
  } finally {
    s.memzero(body);
  }
}

/**
 * What a file-format vault opens from: the bytes it stored (`decodeFile`), or, when there are none yet, new
 * file keys for `secret` (Argon2id with `params` for a passphrase) and no keys.
 */
export function unlockFile(
  existing: Uint8Array | undefined,
  secret: FileVaultSecret,
  params: Argon2Params,
): { fileKeys: FileKeys; keys: StoredKey[] } {
  return existing === undefined
    ? { fileKeys: newFileKeys(secret, params), keys: [] }
    : decodeFile(existing, secret);
}

/**
 * Opens a file's bytes with the caller's secret: the file keys (to write it again) and the keys it holds.
 * The order of checks decides the error: structure first (`CORRUPT_FILE`, `UNSUPPORTED_VERSION`), then the
 * key check (`WRONG_PASSPHRASE`), then the AEAD tag over header and body (`CORRUPT_FILE`).
 */
export function decodeFile(
  file: Uint8Array,
  secret: FileVaultSecret,
): { fileKeys: FileKeys; keys: StoredKey[] } {
  const s = sodium();
  if (file.length < HEADER.version || !s.memcmp(file.subarray(0, MAGIC.length), MAGIC)) {
    throw corruptFile('not a Sealroute vault file (bad magic)');
  }
  if (file.length <= HEADER.version) {
    throw corruptFile('truncated header');
  }
  const version = file[HEADER.version];
  if (version > FORMAT_VERSION) {
    // Checked before the checksum, whose place a later version may move.
    throw new VaultError(
      'UNSUPPORTED_VERSION',
      `vault file version ${version} is newer than ${FORMAT_VERSION}`,
    );
  }
  if (version !== FORMAT_VERSION) {
    throw corruptFile(`bad version ${version}`);
  }
  if (file.length < HEADER.length + TAG_LENGTH) {
    throw corruptFile('truncated');
  }
  const header = file.subarray(0, HEADER.length);
  if (!s.memcmp(headerChecksum(header), header.subarray(HEADER.checksum, HEADER.length))) {
    throw corruptFile('header checksum mismatch');
  }
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const kdf = header[HEADER.kdf];
  const params = { opsLimit: view.getUint32(HEADER.opsLimit), memLimit: view.getUint32(HEADER.memLimit) };
  const salt = header.slice(HEADER.salt, HEADER.salt + SALT_LENGTH);
  if (kdf === KDF_ARGON2ID) {
    try {
      checkParams(params);
    } catch (cause) {
      // A cost above the cap is told apart: the file may be sound but was written by a build with a higher
      // cap, or forged to make opening it expensive; either way no Argon2id work is done.
      if (cause instanceof VaultError && cause.code === 'KDF_TOO_COSTLY') throw cause;
      throw corruptFile('Argon2id parameters out of range', cause);
    }
    if (!('passphrase' in secret)) {
      throw new VaultError('WRONG_PASSPHRASE', 'this vault file is protected by a passphrase, not a key');
    }
  } else if (kdf === KDF_NONE) {
    if (params.opsLimit !== 0 || params.memLimit !== 0 || salt.some((b) => b !== 0)) {
      throw corruptFile('unexpected KDF parameters');
    }
    if (!('key' in secret)) {
      throw new VaultError('WRONG_PASSPHRASE', 'this vault file is protected by a key, not a passphrase');
    }
  } else {
    throw corruptFile(`unknown KDF ${kdf}`);
  }

  const fileKeys = deriveFileKeys(secret, kdf, params, salt);
  let body: Uint8Array | undefined;
  try {
    if (!s.memcmp(fileKeys.keyCheck, header.slice(HEADER.keyCheck, HEADER.keyCheck + 32))) {
      throw new VaultError('WRONG_PASSPHRASE', 'wrong passphrase or key for this vault file');
    }
    try {
      body = s.crypto_aead_xchacha20poly1305_ietf_decrypt(
        null,
        file.subarray(HEADER.length),
        header,
        header.slice(HEADER.nonce, HEADER.nonce + NONCE_LENGTH),
        fileKeys.encryptionKey,
      );
    } catch {
      // The secret is right (key check), so a failing tag means damaged bytes.
      throw corruptFile('authentication failed: the file is damaged');
    }
    return { fileKeys, keys: decodeBody(body) };
  } catch (error) {
    wipeFileKeys(fileKeys);
    throw error;
  } finally {
    if (body !== undefined) {
      s.memzero(body);
    }
  }
}

/** BLAKE2b-128 of the header bytes before the checksum field: catches damage before any key derivation. */
function headerChecksum(header: Uint8Array): Uint8Array {
  return sodium().crypto_generichash(CHECKSUM_LENGTH, header.subarray(0, HEADER.checksum), null);
}
