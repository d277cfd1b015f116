/**
 * Encoding of a vault file: a fixed header, then the key set encrypted with XChaCha20-Poly1305. The layout is
 * documented at the top of `file-vault.ts`; this module is the only code that reads or writes it.
 */
import { VaultError } from './errors';
import { SECRET_LENGTH } from './key-store';
import { sodium } from '../crypto/sodium';
import type { KeyId, KeyType } from './vault';

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

export const MAGIC = new Uint8Array([0x53, 0x52, 0x56, 0x41, 0x55, 0x4c, 0x54, 0x00]); // "SRVAULT\0"
export const FORMAT_VERSION = 1;
export const KDF_ARGON2ID = 1;
export const KDF_NONE = 2;

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
const SALT_LENGTH = 16;
const NONCE_LENGTH = 24;
const CHECKSUM_LENGTH = 16;
const TAG_LENGTH = 16;

// crypto_kdf context and subkey ids: one master secret (Argon2id output or the application key) gives the
// body encryption key and an independent key-check value, so checking the secret never reveals the key.
const KDF_CONTEXT = 'SRVAULT1';
const SUBKEY_ENCRYPTION = 1;
const SUBKEY_CHECK = 2;

const KEY_TYPE_CODE: Readonly<Record<KeyType, number>> = { x25519: 1, ed25519: 2 };
const KEY_TYPE_BY_CODE: ReadonlyMap<number, KeyType> = new Map([
  [1, 'x25519'],
  [2, 'ed25519'],
]);

/** What a file's secret unlocks: the header fields that stay fixed for the file's life, and the derived keys. */
export interface FileKeys {
  readonly kdf: typeof KDF_ARGON2ID | typeof KDF_NONE;
  readonly params: Argon2Params;
  readonly salt: Uint8Array;
  readonly encryptionKey: Uint8Array;
  readonly keyCheck: Uint8Array;
}

/** A persisted key: its id, type and 32-byte secret. */
export interface StoredKey {
  readonly id: KeyId;
  readonly type: KeyType;
  readonly secret: Uint8Array;
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

function deriveFileKeys(
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
    throw corrupt('not a Sealroute vault file (bad magic)');
  }
  if (file.length <= HEADER.version) {
    throw corrupt('truncated header');
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
    throw corrupt(`bad version ${version}`);
  }
  if (file.length < HEADER.length + TAG_LENGTH) {
    throw corrupt('truncated');
  }
  const header = file.subarray(0, HEADER.length);
  if (!s.memcmp(headerChecksum(header), header.subarray(HEADER.checksum, HEADER.length))) {
    throw corrupt('header checksum mismatch');
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
      throw corrupt('Argon2id parameters out of range', cause);
    }
    if (!('passphrase' in secret)) {
      throw new VaultError('WRONG_PASSPHRASE', 'this vault file is protected by a passphrase, not a key');
    }
  } else if (kdf === KDF_NONE) {
    if (params.opsLimit !== 0 || params.memLimit !== 0 || salt.some((b) => b !== 0)) {
      throw corrupt('unexpected KDF parameters');
    }
    if (!('key' in secret)) {
      throw new VaultError('WRONG_PASSPHRASE', 'this vault file is protected by a key, not a passphrase');
    }
  } else {
    throw corrupt(`unknown KDF ${kdf}`);
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
      throw corrupt('authentication failed: the file is damaged');
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

/** Body v1: u32 count, then per key: u8 type, u8 id length, id (UTF-8), 32-byte secret. */
export function encodeBody(keys: readonly StoredKey[]): Uint8Array {
  const encoder = new TextEncoder();
  const ids = keys.map((key) => encoder.encode(key.id));
  const size = 4 + keys.reduce((sum, _key, i) => sum + 2 + ids[i].length + SECRET_LENGTH, 0);
  const body = new Uint8Array(size);
  const view = new DataView(body.buffer);
  view.setUint32(0, keys.length);
  let offset = 4;
  keys.forEach((key, i) => {
    if (ids[i].length > 255 || key.secret.length !== SECRET_LENGTH) {
      throw new VaultError('INVALID_ARGUMENT', `key ${key.id} cannot be stored`);
    }
    body[offset] = KEY_TYPE_CODE[key.type];
    body[offset + 1] = ids[i].length;
    body.set(ids[i], offset + 2);
    offset += 2 + ids[i].length;
    body.set(key.secret, offset);
    offset += SECRET_LENGTH;
  });
  return body;
}

/** Parses a body strictly: every byte accounted for, known types, unique ids. Secrets are copies. */
export function decodeBody(body: Uint8Array): StoredKey[] {
  // ignoreBOM: an id that starts with U+FEFF keeps it (by default the decoder strips it, which broke the round
  // trip and made two distinct ids collide).
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body.length < 4) {
    throw corrupt('body too short');
  }
  const count = view.getUint32(0);
  const keys: StoredKey[] = [];
  try {
    const seen = new Set<string>();
    let offset = 4;
    for (let i = 0; i < count; i++) {
      if (offset + 2 > body.length) {
        throw corrupt('body truncated');
      }
      const type = KEY_TYPE_BY_CODE.get(body[offset]);
      const idLength = body[offset + 1];
      offset += 2;
      if (type === undefined || idLength === 0 || offset + idLength + SECRET_LENGTH > body.length) {
        throw corrupt('malformed key record');
      }
      let id: string;
      try {
        id = decoder.decode(body.subarray(offset, offset + idLength));
      } catch (cause) {
        throw corrupt('malformed key id', cause);
      }
      offset += idLength;
      if (seen.has(id)) {
        throw corrupt(`duplicate key id ${id}`);
      }
      seen.add(id);
      keys.push({ id, type, secret: body.slice(offset, offset + SECRET_LENGTH) });
      offset += SECRET_LENGTH;
    }
    if (offset !== body.length) {
      throw corrupt('trailing bytes after the key records');
    }
    return keys;
  } catch (error) {
    keys.forEach((key) => sodium().memzero(key.secret));
    throw error;
  }
}

/** BLAKE2b-128 of the header bytes before the checksum field: catches damage before any key derivation. */
function headerChecksum(header: Uint8Array): Uint8Array {
  return sodium().crypto_generichash(CHECKSUM_LENGTH, header.subarray(0, HEADER.checksum), null);
}

function corrupt(message: string, cause?: unknown): VaultError {
  return new VaultError(
    'CORRUPT_FILE',
    `corrupt vault file: ${message}`,
    cause === undefined ? {} : { cause },
  );
}
