/**
 * The stateless primitives every vault offers (hash, Ed25519 verify), over the crypto layer:
 * they use no stored secret, so both vault implementations share this one copy. This file adds the
 * vault's argument checks and errors. Callers must have awaited `sodiumReady()`.
 */
import { hashers, type HashAlgorithm } from '../crypto';
import { sodium } from '../crypto/sodium';
import { VaultError } from './errors';

/** A hash of `data`. */
export function hash(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array {
  return hasher(algorithm).hash(data);
}

function hasher(algorithm: HashAlgorithm) {
  const h = Object.hasOwn(hashers, algorithm) ? hashers[algorithm] : undefined;
  if (h === undefined) throw unknownAlgorithm(algorithm);
  return h;
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

function unknownAlgorithm(algorithm: string): VaultError {
  return new VaultError('INVALID_ARGUMENT', `unknown algorithm ${JSON.stringify(algorithm)}`);
}
