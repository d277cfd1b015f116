import { createHash, createHmac } from 'node:crypto';
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
}

// node:crypto digest names. HMAC over them is plain RFC 2104 with OpenSSL's block size for the digest (64
// for sha256/blake2s256, 128 for sha512/blake2b512), exactly what Noise asks for; BLAKE2's own keyed mode
// would give different bytes and must not be used.
const nodeNames: Record<HashName, string> = {
  SHA256: 'sha256',
  SHA512: 'sha512',
  BLAKE2b: 'blake2b512',
  BLAKE2s: 'blake2s256',
};

function nodeHash(name: HashName, hashLen: number): HashFunction {
  const algorithm = nodeNames[name];
  return {
    name,
    hashLen,
    hash(...parts) {
      const hash = createHash(algorithm);
      for (const part of parts) hash.update(part);
      return hash.digest();
    },
    hmac(key, ...parts) {
      const hmac = createHmac(algorithm, key);
      for (const part of parts) hmac.update(part);
      return hmac.digest();
    },
  };
}

const hashes: Record<HashName, HashFunction> = {
  SHA256: nodeHash('SHA256', 32),
  SHA512: nodeHash('SHA512', 64),
  BLAKE2b: nodeHash('BLAKE2b', 64),
  BLAKE2s: nodeHash('BLAKE2s', 32),
};

/** The hash function for a Noise hash name; throws `UNSUPPORTED_PROTOCOL` for any other name. */
export function hashFunction(name: string): HashFunction {
  const hash = Object.hasOwn(hashes, name) ? hashes[name as HashName] : undefined;
  if (hash === undefined) {
    throw new NoiseError('UNSUPPORTED_PROTOCOL', `unsupported Noise hash function: ${name}`);
  }
  return hash;
}
