/**
 * The stateless primitives every vault offers (hash, HKDF, AEAD, Ed25519 verify). They use no stored secret,
 * so both vault implementations share this one copy. Callers must have awaited `sodiumReady()`.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac } from 'node:crypto';
import { VaultError } from './errors';
import { sodium } from './sodium';
import type { AeadAlgorithm, HashAlgorithm } from './vault';

/** AEAD key, nonce and tag lengths (both algorithms: 256-bit key, 96-bit nonce, 128-bit tag). */
export const AEAD_KEY_LENGTH = 32;
export const AEAD_NONCE_LENGTH = 12;
export const AEAD_TAG_LENGTH = 16;

/** Output length of each hash, in bytes (also HKDF's HashLen). */
export const HASH_LENGTH: Readonly<Record<HashAlgorithm, number>> = {
  sha256: 32,
  sha512: 64,
  blake2b: 64,
  blake2s: 32,
};

// OpenSSL names for HMAC. HMAC-BLAKE2 here is the plain RFC 2104 construction over BLAKE2b-512 (128-byte
// block) and BLAKE2s-256 (64-byte block), which is what the Noise specification's HASH/HMAC pair uses.
const NODE_DIGEST: Readonly<Record<HashAlgorithm, string>> = {
  sha256: 'sha256',
  sha512: 'sha512',
  blake2b: 'blake2b512',
  blake2s: 'blake2s256',
};

/** A hash of `data`: SHA-256/512 and BLAKE2b-512 from libsodium, BLAKE2s-256 from node:crypto. */
export function hash(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array {
  switch (algorithm) {
    case 'sha256':
      return sodium().crypto_hash_sha256(data);
    case 'sha512':
      return sodium().crypto_hash_sha512(data);
    case 'blake2b':
      return sodium().crypto_generichash(HASH_LENGTH.blake2b, data, null);
    case 'blake2s':
      return copyOut(createHash(NODE_DIGEST.blake2s).update(data).digest());
    default:
      throw unknownAlgorithm(algorithm);
  }
}

/** HMAC of `data` under `key` (any key length). */
export function hmac(algorithm: HashAlgorithm, key: Uint8Array, data: Uint8Array): Uint8Array {
  if (!(algorithm in NODE_DIGEST)) {
    throw unknownAlgorithm(algorithm);
  }
  return copyOut(createHmac(NODE_DIGEST[algorithm], key).update(data).digest());
}

/**
 * RFC 5869 HKDF: PRK = HMAC(salt, IKM); T(i) = HMAC(PRK, T(i-1) || info || i); OKM = first `length` bytes of
 * T(1) || T(2) || ... An empty salt stands for HashLen zero bytes (HMAC zero-pads keys, so this is the same).
 */
export function hkdf(
  algorithm: HashAlgorithm,
  salt: Uint8Array,
  ikm: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  const hashLength = HASH_LENGTH[algorithm];
  if (hashLength === undefined) {
    throw unknownAlgorithm(algorithm);
  }
  // RFC 5869 section 2.3: L <= 255 * HashLen, since the block counter is a single octet.
  if (!Number.isInteger(length) || length < 0 || length > 255 * hashLength) {
    throw new VaultError('INVALID_ARGUMENT', `HKDF length must be an integer in [0, ${255 * hashLength}]`);
  }
  const prk = hmac(algorithm, salt.length === 0 ? new Uint8Array(hashLength) : salt, ikm);
  const okm = new Uint8Array(length);
  let previous: Uint8Array = new Uint8Array(0);
  for (let i = 1, offset = 0; offset < length; i++) {
    const input = new Uint8Array(previous.length + info.length + 1);
    input.set(previous, 0);
    input.set(info, previous.length);
    input[input.length - 1] = i;
    sodium().memzero(previous);
    previous = hmac(algorithm, prk, input);
    sodium().memzero(input);
    okm.set(previous.subarray(0, Math.min(hashLength, length - offset)), offset);
    offset += hashLength;
  }
  sodium().memzero(previous);
  sodium().memzero(prk);
  return okm;
}

/** AEAD encryption; the 16-byte tag is appended to the ciphertext. */
export function aeadEncrypt(
  algorithm: AeadAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
): Uint8Array {
  checkKeyAndNonce(key, nonce);
  switch (algorithm) {
    case 'chacha20poly1305':
      return sodium().crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
    case 'aes256gcm': {
      const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_LENGTH });
      cipher.setAAD(ad);
      const head = cipher.update(plaintext);
      const tail = cipher.final();
      const out = new Uint8Array(head.length + tail.length + AEAD_TAG_LENGTH);
      out.set(head, 0);
      out.set(tail, head.length);
      out.set(cipher.getAuthTag(), head.length + tail.length);
      return out;
    }
    default:
      throw unknownAlgorithm(algorithm);
  }
}

/**
 * AEAD decryption of `ciphertext || tag`. Any failure to authenticate, including a ciphertext shorter than a
 * tag, is the same opaque `DECRYPT_FAILED` with no cause attached.
 */
export function aeadDecrypt(
  algorithm: AeadAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  ad: Uint8Array,
): Uint8Array {
  checkKeyAndNonce(key, nonce);
  if (algorithm !== 'chacha20poly1305' && algorithm !== 'aes256gcm') {
    throw unknownAlgorithm(algorithm);
  }
  if (ciphertext.length < AEAD_TAG_LENGTH) {
    throw decryptFailed();
  }
  if (algorithm === 'chacha20poly1305') {
    try {
      return sodium().crypto_aead_chacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, key);
    } catch {
      throw decryptFailed();
    }
  }
  const split = ciphertext.length - AEAD_TAG_LENGTH;
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_LENGTH });
  decipher.setAAD(ad);
  decipher.setAuthTag(ciphertext.subarray(split));
  const head = decipher.update(ciphertext.subarray(0, split));
  try {
    const tail = decipher.final();
    const out = new Uint8Array(head.length + tail.length);
    out.set(head, 0);
    out.set(tail, head.length);
    return out;
  } catch {
    throw decryptFailed();
  } finally {
    // Unauthenticated plaintext must not linger in Node's buffer pool.
    head.fill(0);
  }
}

/**
 * Ed25519 verification. Malformed input (wrong public key or signature length) is simply "not valid": the
 * inputs usually come from a peer, and a verifier has nothing useful to throw about.
 */
export function verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  const s = sodium();
  if (publicKey.length !== s.crypto_sign_PUBLICKEYBYTES || signature.length !== s.crypto_sign_BYTES) {
    return false;
  }
  try {
    return s.crypto_sign_verify_detached(signature, data, publicKey);
  } catch {
    return false;
  }
}

function checkKeyAndNonce(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== AEAD_KEY_LENGTH) {
    throw new VaultError('INVALID_ARGUMENT', `AEAD key must be ${AEAD_KEY_LENGTH} bytes, got ${key.length}`);
  }
  if (nonce.length !== AEAD_NONCE_LENGTH) {
    throw new VaultError(
      'INVALID_ARGUMENT',
      `AEAD nonce must be ${AEAD_NONCE_LENGTH} bytes, got ${nonce.length}`,
    );
  }
}

function decryptFailed(): VaultError {
  return new VaultError('DECRYPT_FAILED', 'decryption failed');
}

function unknownAlgorithm(algorithm: string): VaultError {
  return new VaultError('INVALID_ARGUMENT', `unknown algorithm ${JSON.stringify(algorithm)}`);
}

/** A plain Uint8Array copy of a Node Buffer (pooled Buffers share memory); the Buffer is wiped. */
function copyOut(buffer: Buffer): Uint8Array {
  const out = new Uint8Array(buffer);
  buffer.fill(0);
  return out;
}
