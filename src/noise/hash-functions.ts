import { nodeCrypto, type CryptoBackend, type HashAlgorithm } from '../crypto';
import { NoiseError } from './errors';

/** The Noise hash names this implementation speaks. */
export type HashName = 'SHA256' | 'SHA512' | 'BLAKE2b' | 'BLAKE2s';

/**
 * A Noise hash function (spec section 4.3): HASH, HMAC-HASH per RFC 2104 with the hash's own block length,
 * and the HKDF built on it. `parts` are hashed as if concatenated, so callers never build `h || data`.
 */
export interface HashFunction {
  readonly name: HashName;
  /** HASHLEN: 32 for SHA256 and BLAKE2s, 64 for SHA512 and BLAKE2b. */
  readonly hashLen: number;
  /** HASH(parts[0] || parts[1] || ...). */
  hash(...parts: Uint8Array[]): Uint8Array;
  /** HMAC-HASH(key, parts[0] || parts[1] || ...). */
  hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array;
  /**
   * HKDF(chaining_key, input_key_material, 2) of spec section 4.3: temp_key = HMAC(ck, ikm);
   * output1 = HMAC(temp_key, 0x01); output2 = HMAC(temp_key, output1 || 0x02). HASHLEN bytes each.
   */
  hkdf(ck: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array];
}

// The crypto layer's name of each Noise hash. Its HMAC is plain RFC 2104 with the hash's block length,
// what Noise asks for (for BLAKE2 too: BLAKE2's own keyed mode would give different bytes).
const algorithms: Record<HashName, HashAlgorithm> = {
  SHA256: 'sha256',
  SHA512: 'sha512',
  BLAKE2b: 'blake2b',
  BLAKE2s: 'blake2s',
};

// Built once per backend and hash, not per handshake.
const byBackend = new WeakMap<CryptoBackend, Map<HashAlgorithm, HashFunction>>();

/**
 * The hash function for a Noise hash name over `crypto` (default Node's, whose SHA256 is the reusable
 * TypeScript one: no native object per call); throws `UNSUPPORTED_PROTOCOL` for any other name.
 */
export function hashFunction(name: string, crypto: CryptoBackend = nodeCrypto): HashFunction {
  const algorithm = Object.hasOwn(algorithms, name) ? algorithms[name as HashName] : undefined;
  if (algorithm === undefined) {
    throw new NoiseError('UNSUPPORTED_PROTOCOL', `unsupported Noise hash function: ${name}`);
  }
  let functions = byBackend.get(crypto);
  if (functions === undefined) {
    functions = new Map();
    byBackend.set(crypto, functions);
  }
  let hash = functions.get(algorithm);
  if (hash === undefined) {
    const hasher = crypto.hasher(algorithm);
    hash = {
      name: name as HashName,
      hashLen: hasher.length,
      hash: (...parts) => hasher.hash(...parts),
      hmac: (key, ...parts) => hasher.hmac(key, ...parts),
      hkdf: (ck, ikm) => hasher.hkdf2(ck, ikm),
    };
    functions.set(algorithm, hash);
  }
  return hash;
}
