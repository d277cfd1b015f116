import { createHash, createHmac } from 'node:crypto';
import { HmacSha256, SHA256_LENGTH, Sha256 } from './sha256';

import { hkdf2 } from './hkdf';

export { hkdf } from './hkdf';

/** The hash algorithms of the crypto layer. */
export type HashAlgorithm = 'sha256' | 'sha512' | 'blake2b' | 'blake2s';

/**
 * A hash algorithm with HMAC (RFC 2104, with the hash's own block length) and the two-output HKDF of the
 * Noise specification (section 4.3). `parts` are hashed as if concatenated, so callers never build
 * `h || data`. Synchronous and not re-entrant, like everything in this layer.
 */
export interface Hasher {
  readonly algorithm: HashAlgorithm;
  /** Output length in bytes: 32 for sha256 and blake2s, 64 for sha512 and blake2b. */
  readonly length: number;
  /** HASH(parts[0] || parts[1] || ...). */
  hash(...parts: Uint8Array[]): Uint8Array;
  /** HMAC(key, parts[0] || parts[1] || ...). */
  hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array;
  /**
   * HKDF(chaining_key, input_key_material, 2) of Noise: temp_key = HMAC(ck, ikm);
   * output1 = HMAC(temp_key, 0x01); output2 = HMAC(temp_key, output1 || 0x02). `length` bytes each.
   */
  hkdf2(ck: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array];
}

const ONE = Uint8Array.of(0x01);
const TWO = Uint8Array.of(0x02);

// node:crypto digest names. HMAC over them is plain RFC 2104 with OpenSSL's block size for the digest (64
// for sha256/blake2s256, 128 for sha512/blake2b512), exactly what Noise asks for; BLAKE2's own keyed mode
// would give different bytes and must not be used.
const nodeNames: Readonly<Record<HashAlgorithm, string>> = {
  sha256: 'sha256',
  sha512: 'sha512',
  blake2b: 'blake2b512',
  blake2s: 'blake2s256',
};

/** A hasher over node:crypto's `createHash`/`createHmac`. Outputs are plain arrays (the Buffers wiped). */
function nodeHasher(algorithm: HashAlgorithm, length: number): Hasher {
  const name = nodeNames[algorithm];
  const hmac = (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array => {
    const mac = createHmac(name, key);
    for (const part of parts) mac.update(part);
    return copyOut(mac.digest());
  };
  return {
    algorithm,
    length,
    hash(...parts) {
      const hash = createHash(name);
      for (const part of parts) hash.update(part);
      return copyOut(hash.digest());
    },
    hmac,
    hkdf2: (ck, ikm) => hkdf2(hmac, ck, ikm),
  };
}

/**
 * SHA-256 through the reusable implementation of ./sha256: no native object built per call (node:crypto's
 * `createHash`/`createHmac` cost ~7 µs each for a handshake's 64-byte inputs, this ~2-5), and HKDF keys
 * its temporary HMAC key once for both outputs.
 */
function sha256Hasher(): Hasher {
  const sha = new Sha256();
  const mac = new HmacSha256();
  const tempKey = new Uint8Array(SHA256_LENGTH);
  return {
    algorithm: 'sha256',
    length: SHA256_LENGTH,
    hash(...parts) {
      sha.reset();
      for (const part of parts) sha.update(part);
      return sha.digest();
    },
    hmac(key, ...parts) {
      const out = new Uint8Array(SHA256_LENGTH);
      mac.setKey(key).macInto(parts, out);
      mac.clear();
      return out;
    },
    hkdf2(ck, ikm) {
      mac.setKey(ck).macInto([ikm], tempKey);
      const output1 = new Uint8Array(SHA256_LENGTH);
      const output2 = new Uint8Array(SHA256_LENGTH);
      mac.setKey(tempKey).macInto([ONE], output1);
      mac.macInto([output1, TWO], output2);
      mac.clear();
      tempKey.fill(0);
      return [output1, output2];
    },
  };
}

/** The hashers by algorithm. */
export const hashers: Readonly<Record<HashAlgorithm, Hasher>> = {
  sha256: sha256Hasher(),
  sha512: nodeHasher('sha512', 64),
  blake2b: nodeHasher('blake2b', 64),
  blake2s: nodeHasher('blake2s', 32),
};

/** A plain Uint8Array copy of a Node Buffer (pooled Buffers share memory); the Buffer is wiped. */
function copyOut(buffer: Buffer): Uint8Array {
  const out = new Uint8Array(buffer);
  buffer.fill(0);
  return out;
}
