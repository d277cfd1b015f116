/**
 * The stateless primitives every vault offers (hash, HKDF, AEAD, Ed25519 verify), over the crypto layer:
 * they use no stored secret, so both vault implementations share this one copy. This file adds the
 * vault's argument checks and errors. Callers must have awaited `sodiumReady()`.
 */
import { aeads, hashers, hkdf as cryptoHkdf, type AeadAlgorithm, type HashAlgorithm } from '../crypto';
import { sodium } from '../crypto/sodium';
import { VaultError } from './errors';

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

/** A hash of `data`. */
export function hash(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array {
  return hasher(algorithm).hash(data);
}

/** HMAC of `data` under `key` (any key length). */
export function hmac(algorithm: HashAlgorithm, key: Uint8Array, data: Uint8Array): Uint8Array {
  return hasher(algorithm).hmac(key, data);
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
  const h = hasher(algorithm);
  // RFC 5869 section 2.3: L <= 255 * HashLen, since the block counter is a single octet.
  if (!Number.isInteger(length) || length < 0 || length > 255 * h.length) {
    throw new VaultError('INVALID_ARGUMENT', `HKDF length must be an integer in [0, ${255 * h.length}]`);
  }
  return cryptoHkdf(h, salt, ikm, info, length);
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
  return aead(algorithm).seal(key, nonce, ad, plaintext);
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
  const plaintext = aead(algorithm).open(key, nonce, ad, ciphertext);
  if (plaintext === undefined) throw decryptFailed();
  return plaintext;
}

function hasher(algorithm: HashAlgorithm) {
  const h = Object.hasOwn(hashers, algorithm) ? hashers[algorithm] : undefined;
  if (h === undefined) throw unknownAlgorithm(algorithm);
  return h;
}

function aead(algorithm: AeadAlgorithm) {
  const a = Object.hasOwn(aeads, algorithm) ? aeads[algorithm] : undefined;
  if (a === undefined) throw unknownAlgorithm(algorithm);
  return a;
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
