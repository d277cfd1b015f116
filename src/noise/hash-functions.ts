import { createHash, createHmac } from 'node:crypto';
import { NoiseError } from './errors';
import { HmacSha256, Sha256 } from './sha256';

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

const ONE = Uint8Array.of(0x01);
const TWO = Uint8Array.of(0x02);

/** HKDF with two outputs from the hash function's HMAC. */
function hkdfFromHmac(hmac: HashFunction['hmac'], ck: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array] {
  const tempKey = hmac(ck, ikm);
  const output1 = hmac(tempKey, ONE);
  const output2 = hmac(tempKey, output1, TWO);
  tempKey.fill(0);
  return [output1, output2];
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
  const hmac = (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array => {
    const mac = createHmac(algorithm, key);
    for (const part of parts) mac.update(part);
    return mac.digest();
  };
  return {
    name,
    hashLen,
    hash(...parts) {
      const hash = createHash(algorithm);
      for (const part of parts) hash.update(part);
      return hash.digest();
    },
    hmac,
    hkdf: (ck, ikm) => hkdfFromHmac(hmac, ck, ikm),
  };
}

/**
 * SHA256 through the reusable implementation of ./sha256: no native object built per call (node:crypto's
 * `createHash`/`createHmac` cost ~7 µs each for a handshake's 64-byte inputs, this ~2-5), and HKDF keys
 * its temporary HMAC key once for both outputs. Synchronous and not re-entrant, like everything here.
 */
function sha256(): HashFunction {
  const sha = new Sha256();
  const mac = new HmacSha256();
  const tempKey = new Uint8Array(32);
  const hmac = (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array => {
    const out = new Uint8Array(32);
    mac.setKey(key).macInto(parts, out);
    mac.clear();
    return out;
  };
  return {
    name: 'SHA256',
    hashLen: 32,
    hash(...parts) {
      sha.reset();
      for (const part of parts) sha.update(part);
      return sha.digest();
    },
    hmac,
    hkdf(ck, ikm) {
      mac.setKey(ck).macInto([ikm], tempKey);
      const output1 = new Uint8Array(32);
      const output2 = new Uint8Array(32);
      mac.setKey(tempKey).macInto([ONE], output1);
      mac.macInto([output1, TWO], output2);
      mac.clear();
      tempKey.fill(0);
      return [output1, output2];
    },
  };
}

const hashes: Record<HashName, HashFunction> = {
  SHA256: sha256(),
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
