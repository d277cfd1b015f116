import { AEAD_TAG_LENGTH, nodeCrypto, type AeadAlgorithm, type CryptoBackend } from '../crypto';
import { NoiseError } from './errors';

export { CHACHA_NODE_THRESHOLD } from '../crypto';

/** The Noise cipher names this implementation speaks. */
export type CipherName = 'ChaChaPoly' | 'AESGCM';

/** Length of the AEAD authentication tag every Noise cipher appends. */
export const TAG_LENGTH = AEAD_TAG_LENGTH;

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
   * `out` at `offset`, so a frame can be built in place, without the output array `encrypt` allocates. With
   * `more`, the plaintext is `plaintext || more`.
   */
  encryptInto(
    k: Uint8Array,
    nonce: Uint8Array,
    ad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    offset: number,
    more?: Uint8Array,
  ): void;
  /**
   * ENCRYPT as parts, not joined (the AEAD's own outputs): ciphertext || tag of `plaintext || more`, the
   * concatenation of the parts (see `Aead.sealParts`).
   */
  encryptParts(
    k: Uint8Array,
    nonce: Uint8Array,
    ad: Uint8Array,
    plaintext: Uint8Array,
    more?: Uint8Array,
  ): Uint8Array[];
  /** DECRYPT: a new array holding the plaintext, or `DECRYPT_FAILED`. */
  decrypt(k: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array;
}

function decryptFailed(): NoiseError {
  // One fixed message for every cause: the peer learns nothing about why a message was rejected.
  return new NoiseError('DECRYPT_FAILED', 'decryption failed');
}

/** The Noise cipher over one of the backend's AEADs, with the cipher's nonce layout. */
function noiseCipher(
  name: CipherName,
  algorithm: AeadAlgorithm,
  formatNonce: CipherFunction['formatNonce'],
  crypto: CryptoBackend,
): CipherFunction {
  const aead = crypto.aead(algorithm);
  return {
    name,
    formatNonce,
    encrypt: (k, nonce, ad, plaintext) => aead.seal(k, nonce, ad, plaintext),
    encryptInto(k, nonce, ad, plaintext, out, offset, more) {
      aead.sealInto(k, nonce, ad, plaintext, out, offset, more);
    },
    encryptParts: (k, nonce, ad, plaintext, more) => aead.sealParts(k, nonce, ad, plaintext, more),
    decrypt(k, nonce, ad, ciphertext) {
      const plaintext = aead.open(k, nonce, ad, ciphertext);
      if (plaintext === undefined) throw decryptFailed();
      return plaintext;
    },
  };
}

function ciphersOf(crypto: CryptoBackend): Record<CipherName, CipherFunction> {
  return {
    // ChaChaPoly: IETF ChaCha20-Poly1305, nonce = 4 zero bytes || little-endian 64-bit n (spec 12.3).
    ChaChaPoly: noiseCipher(
      'ChaChaPoly',
      'chacha20poly1305',
      (into, hi, lo) => {
        into.setUint32(0, 0);
        into.setUint32(4, lo, true);
        into.setUint32(8, hi, true);
      },
      crypto,
    ),
    // AESGCM: AES-256-GCM, nonce = 4 zero bytes || big-endian 64-bit n (spec 12.4).
    AESGCM: noiseCipher(
      'AESGCM',
      'aes256gcm',
      (into, hi, lo) => {
        into.setUint32(0, 0);
        into.setUint32(4, hi);
        into.setUint32(8, lo);
      },
      crypto,
    ),
  };
}

const byBackend = new WeakMap<CryptoBackend, Record<CipherName, CipherFunction>>();

/**
 * The cipher function for a Noise cipher name over `crypto` (default Node's); throws `UNSUPPORTED_PROTOCOL`
 * for any other name.
 */
export function cipherFunction(name: string, crypto: CryptoBackend = nodeCrypto): CipherFunction {
  let ciphers = byBackend.get(crypto);
  if (ciphers === undefined) {
    ciphers = ciphersOf(crypto);
    byBackend.set(crypto, ciphers);
  }
  const cipher = Object.hasOwn(ciphers, name) ? ciphers[name as CipherName] : undefined;
  if (cipher === undefined) {
    throw new NoiseError('UNSUPPORTED_PROTOCOL', `unsupported Noise cipher function: ${name}`);
  }
  return cipher;
}
