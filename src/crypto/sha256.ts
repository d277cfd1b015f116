/**
 * SHA-256 (FIPS 180-4) in plain TypeScript, with HMAC (RFC 2104) and the two-output HKDF of the Noise
 * specification (section 4.3) on top. It exists for speed, not for features: a handshake hashes about
 * twenty short inputs per side, and node:crypto's `createHash`/`createHmac` cost 7-8 µs each to build and
 * tear down their native objects, while a compression function over preallocated words costs well under
 * one (bench/noise-primitives.ts measures both). Its output is checked against node:crypto in
 * test/crypto/sha256.test.ts and by every SHA256 vector of test/noise/vectors.test.ts.
 */

const BLOCK = 64;
/** SHA-256's output length, in bytes. */
export const SHA256_LENGTH = 32;

// prettier-ignore
const K = Int32Array.of(
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
);

// prettier-ignore
const IV = Int32Array.of(
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
);

/**
 * A reusable SHA-256: `reset`, any number of `update`s, then `digestInto`. One instance serves any number
 * of hashes in turn; nothing is allocated per hash. Not re-entrant (one hash at a time per instance).
 */
export class Sha256 {
  private readonly state = new Int32Array(8);
  private readonly w = new Int32Array(64);
  private readonly buffer = new Uint8Array(BLOCK);
  private buffered = 0;
  private length = 0; // bytes hashed so far; below 2^53, far beyond any Noise input

  constructor() {
    this.reset();
  }

  /** Starts a new hash from the initial value, or from a saved midstate of `bytes` hashed bytes. */
  reset(midstate: Int32Array = IV, bytes = 0): this {
    this.state.set(midstate);
    this.buffered = 0;
    this.length = bytes;
    return this;
  }

  /** Copies the state after a whole number of blocks (for HMAC's precomputed pads) into `into`. */
  saveMidstate(into: Int32Array): void {
    if (this.buffered !== 0) throw new Error('a SHA-256 midstate is taken on a block boundary');
    into.set(this.state);
  }

  /** Hashes `data` after what came before. */
  update(data: Uint8Array): this {
    let offset = 0;
    const n = data.length;
    this.length += n;
    if (this.buffered > 0) {
      const take = Math.min(BLOCK - this.buffered, n);
      this.buffer.set(data.subarray(0, take), this.buffered);
      this.buffered += take;
      offset = take;
      if (this.buffered < BLOCK) return this;
      this.compress(this.buffer, 0);
      this.buffered = 0;
    }
    for (; n - offset >= BLOCK; offset += BLOCK) this.compress(data, offset);
    if (offset < n) {
      this.buffer.set(data.subarray(offset), 0);
      this.buffered = n - offset;
    }
    return this;
  }

  /** Finishes the hash: writes the 32-byte digest into `out` at `offset`. The instance is then spent. */
  digestInto(out: Uint8Array, offset = 0): void {
    const buffer = this.buffer;
    const bits = this.length * 8;
    buffer[this.buffered++] = 0x80;
    if (this.buffered > BLOCK - 8) {
      buffer.fill(0, this.buffered);
      this.compress(buffer, 0);
      this.buffered = 0;
    }
    buffer.fill(0, this.buffered, BLOCK - 8);
    const hi = Math.floor(bits / 0x1_0000_0000);
    const lo = bits >>> 0;
    buffer[56] = hi >>> 24;
    buffer[57] = hi >>> 16;
    buffer[58] = hi >>> 8;
    buffer[59] = hi;
    buffer[60] = lo >>> 24;
    buffer[61] = lo >>> 16;
    buffer[62] = lo >>> 8;
    buffer[63] = lo;
    this.compress(buffer, 0);
    const state = this.state;
    for (let i = 0; i < 8; i++) {
      const word = state[i]!;
      const at = offset + 4 * i;
      out[at] = word >>> 24;
      out[at + 1] = word >>> 16;
      out[at + 2] = word >>> 8;
      out[at + 3] = word;
    }
  }

  /** The digest as a new array. */
  digest(): Uint8Array {
    const out = new Uint8Array(SHA256_LENGTH);
    this.digestInto(out);
    return out;
  }

  private compress(data: Uint8Array, offset: number): void {
    const w = this.w;
    for (let i = 0; i < 16; i++) {
      const at = offset + 4 * i;
      w[i] = (data[at]! << 24) | (data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!;
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    const state = this.state;
    let a = state[0]!;
    let b = state[1]!;
    let c = state[2]!;
    let d = state[3]!;
    let e = state[4]!;
    let f = state[5]!;
    let g = state[6]!;
    let h = state[7]!;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + S1 + ch + K[i]! + w[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    state[0] = (state[0]! + a) | 0;
    state[1] = (state[1]! + b) | 0;
    state[2] = (state[2]! + c) | 0;
    state[3] = (state[3]! + d) | 0;
    state[4] = (state[4]! + e) | 0;
    state[5] = (state[5]! + f) | 0;
    state[6] = (state[6]! + g) | 0;
    state[7] = (state[7]! + h) | 0;
  }
}

/**
 * HMAC-SHA-256 with the key's pads hashed once: `setKey`, then any number of `mac`s under that key. The
 * Noise HKDF takes two MACs under one temporary key, so this saves two of its ten compressions.
 */
export class HmacSha256 {
  private readonly sha = new Sha256();
  private readonly inner = new Int32Array(8);
  private readonly outer = new Int32Array(8);
  private readonly pad = new Uint8Array(BLOCK);
  private readonly innerDigest = new Uint8Array(SHA256_LENGTH);

  /** Keys the MAC (RFC 2104: a key longer than a block is hashed first, a shorter one zero-padded). */
  setKey(key: Uint8Array): this {
    const pad = this.pad;
    pad.fill(0);
    if (key.length > BLOCK) this.sha.reset().update(key).digestInto(pad);
    else pad.set(key);
    for (let i = 0; i < BLOCK; i++) pad[i] ^= 0x36;
    this.sha.reset().update(pad).saveMidstate(this.inner);
    for (let i = 0; i < BLOCK; i++) pad[i] ^= 0x36 ^ 0x5c;
    this.sha.reset().update(pad).saveMidstate(this.outer);
    pad.fill(0); // the pads are the key in disguise
    return this;
  }

  /** HMAC(key, parts[0] || parts[1] || ...) into `out` at `offset`. */
  macInto(parts: readonly Uint8Array[], out: Uint8Array, offset = 0): void {
    const sha = this.sha.reset(this.inner, BLOCK);
    for (const part of parts) sha.update(part);
    sha.digestInto(this.innerDigest);
    sha.reset(this.outer, BLOCK).update(this.innerDigest).digestInto(out, offset);
  }

  /** Wipes the keyed state. */
  clear(): void {
    this.inner.fill(0);
    this.outer.fill(0);
    this.innerDigest.fill(0);
  }
}
