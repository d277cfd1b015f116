import { createCipheriv, createDecipheriv } from 'node:crypto';
import { sodium } from '../vault/sodium';
import { NoiseError } from './errors';

/** The Noise cipher names this implementation speaks. */
export type CipherName = 'ChaChaPoly' | 'AESGCM';

/** Length of the AEAD authentication tag every Noise cipher appends. */
export const TAG_LENGTH = 16;

/**
 * A Noise cipher function (spec section 4.2): ENCRYPT(k, n, ad, plaintext) and DECRYPT(k, n, ad,
 * ciphertext) over a 32-byte key. The spec's 64-bit `n` is split in two steps: `formatNonce` writes the
 * cipher's 96-bit nonce for n = hi * 2^32 + lo into a caller-owned scratch buffer (so the transport path
 * neither allocates nor touches a BigInt), then `encrypt`/`decrypt` take those 12 bytes. Encryption returns
 * ciphertext || tag; decryption throws `DECRYPT_FAILED` and nothing more specific.
 */
export interface CipherFunction {
  readonly name: CipherName;
  /** Writes the 12-byte nonce for the 64-bit counter (hi, lo) into `into`. */
  formatNonce(into: DataView, hi: number, lo: number): void;
  /** ENCRYPT: a new array holding ciphertext || 16-byte tag. */
  encrypt(k: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * ENCRYPT into a caller's buffer: writes ciphertext || 16-byte tag (plaintext.length + 16 bytes) into
   * `out` at `offset`, so a frame can be built in place, without the output array `encrypt` allocates.
   */
  encryptInto(
    k: Uint8Array,
    nonce: Uint8Array,
    ad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    offset: number,
  ): void;
  /** DECRYPT: a new array holding the plaintext, or `DECRYPT_FAILED`. */
  decrypt(k: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array;
}

/**
 * Plaintext length from which ChaChaPoly uses node:crypto (OpenSSL) instead of libsodium's WASM build.
 * Both give identical bytes; node:crypto costs ~6-10 us per call to set up a cipher object, libsodium is
 * cheap per call but slow per byte. Measured on Node 20, 2 vCPU, with `npx ts-node bench/noise-aead.ts`
 * (seal / open, us per message):
 *
 *   size        libsodium        node:crypto
 *   64 B        1.8 / 1.2        6.7 / 5.9
 *   1 KiB       7.1 / 6.5       10.8 / 7.2
 *   2 KiB      10.1 / 9.4        9.4 / 7.5    <- crossover
 *   4 KiB      14.2 / 14.4      14.6 / 10.6
 *   16 KiB     52.8 / 55.3      26.7 / 15.9   (~300 vs ~600-1000 MB/s)
 *   64 KiB    206.7 / 226.9     60.1 / 47.8   (~300 vs ~1100-1370 MB/s)
 */
export const CHACHA_NODE_THRESHOLD = 2048;

function decryptFailed(): NoiseError {
  // One fixed message for every cause: the peer learns nothing about why a message was rejected.
  return new NoiseError('DECRYPT_FAILED', 'decryption failed');
}

/** A plain Uint8Array view over a Buffer's bytes (no copy), so callers never meet Buffer#slice's aliasing. */
function view(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function nodeEncrypt(
  algorithm: 'chacha20-poly1305' | 'aes-256-gcm',
  k: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(plaintext.length + TAG_LENGTH);
  nodeEncryptInto(algorithm, k, nonce, ad, plaintext, out, 0);
  return out;
}

function nodeEncryptInto(
  algorithm: 'chacha20-poly1305' | 'aes-256-gcm',
  k: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  const cipher =
    algorithm === 'aes-256-gcm'
      ? createCipheriv(algorithm, k, nonce)
      : createCipheriv(algorithm, k, nonce, { authTagLength: TAG_LENGTH });
  // Empty associated data authenticates the same as none; skipping the call saves a native round trip.
  if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: plaintext.length });
  // node:crypto cannot write into a caller's buffer: update's output is copied once, into place.
  out.set(cipher.update(plaintext), offset);
  cipher.final(); // a stream cipher mode: final() emits nothing, it only computes the tag
  out.set(cipher.getAuthTag(), offset + plaintext.length);
}

function nodeDecrypt(
  algorithm: 'chacha20-poly1305' | 'aes-256-gcm',
  k: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array {
  const length = ciphertext.length - TAG_LENGTH;
  const decipher =
    algorithm === 'aes-256-gcm'
      ? createDecipheriv(algorithm, k, nonce)
      : createDecipheriv(algorithm, k, nonce, { authTagLength: TAG_LENGTH });
  decipher.setAuthTag(ciphertext.subarray(length));
  if (ad.length > 0) decipher.setAAD(ad, { plaintextLength: length });
  const plaintext = decipher.update(ciphertext.subarray(0, length));
  try {
    decipher.final();
  } catch {
    plaintext.fill(0); // never leave unauthenticated plaintext lying around
    throw decryptFailed();
  }
  return view(plaintext);
}

/**
 * ChaChaPoly: IETF ChaCha20-Poly1305 with nonce = 4 zero bytes || little-endian 64-bit n (spec 12.3).
 * Short messages go through libsodium, long ones through node:crypto (see `CHACHA_NODE_THRESHOLD`).
 */
const chaChaPoly: CipherFunction = {
  name: 'ChaChaPoly',
  formatNonce(into, hi, lo) {
    into.setUint32(0, 0);
    into.setUint32(4, lo, true);
    into.setUint32(8, hi, true);
  },
  encrypt(k, nonce, ad, plaintext) {
    if (plaintext.length >= CHACHA_NODE_THRESHOLD) {
      return nodeEncrypt('chacha20-poly1305', k, nonce, ad, plaintext);
    }
    return sodium().crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, k);
  },
  encryptInto(k, nonce, ad, plaintext, out, offset) {
    if (plaintext.length >= CHACHA_NODE_THRESHOLD) {
      nodeEncryptInto('chacha20-poly1305', k, nonce, ad, plaintext, out, offset);
      return;
    }
    out.set(sodium().crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, k), offset);
  },
  decrypt(k, nonce, ad, ciphertext) {
    if (ciphertext.length < TAG_LENGTH) throw decryptFailed();
    if (ciphertext.length - TAG_LENGTH >= CHACHA_NODE_THRESHOLD) {
      return nodeDecrypt('chacha20-poly1305', k, nonce, ad, ciphertext);
    }
    try {
      return sodium().crypto_aead_chacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, k);
    } catch {
      throw decryptFailed();
    }
  },
};

/** AESGCM: AES-256-GCM with nonce = 4 zero bytes || big-endian 64-bit n (spec 12.4). node:crypto only. */
const aesGcm: CipherFunction = {
  name: 'AESGCM',
  formatNonce(into, hi, lo) {
    into.setUint32(0, 0);
    into.setUint32(4, hi);
    into.setUint32(8, lo);
  },
  encrypt(k, nonce, ad, plaintext) {
    return nodeEncrypt('aes-256-gcm', k, nonce, ad, plaintext);
  },
  encryptInto(k, nonce, ad, plaintext, out, offset) {
    nodeEncryptInto('aes-256-gcm', k, nonce, ad, plaintext, out, offset);
  },
  decrypt(k, nonce, ad, ciphertext) {
    if (ciphertext.length < TAG_LENGTH) throw decryptFailed();
    return nodeDecrypt('aes-256-gcm', k, nonce, ad, ciphertext);
  },
};

const ciphers: Record<CipherName, CipherFunction> = { ChaChaPoly: chaChaPoly, AESGCM: aesGcm };

/** The cipher function for a Noise cipher name; throws `UNSUPPORTED_PROTOCOL` for any other name. */
export function cipherFunction(name: string): CipherFunction {
  const cipher = Object.hasOwn(ciphers, name) ? ciphers[name as CipherName] : undefined;
  if (cipher === undefined) {
    throw new NoiseError('UNSUPPORTED_PROTOCOL', `unsupported Noise cipher function: ${name}`);
  }
  return cipher;
}
