import { createCipheriv, createDecipheriv } from 'node:crypto';
import { sodium } from './sodium';
import { concat } from './bytes';
import { SODIUM_AD_MAX, sodiumChaCha } from './sodium-chacha';

/** The AEAD algorithms of the crypto layer: IETF ChaCha20-Poly1305 and AES-256-GCM (96-bit nonces). */
export type AeadAlgorithm = 'chacha20poly1305' | 'aes256gcm';

/** Length of the authentication tag both algorithms append. */
export const AEAD_TAG_LENGTH = 16;

/**
 * Plaintext length from which ChaCha20-Poly1305 seals with node:crypto (OpenSSL) instead of libsodium's WASM
 * build. Both give identical bytes; node:crypto costs ~3-4 us per call to set up a cipher object, libsodium
 * is cheap per call but slow per byte. Measured on Node 20, 2 vCPU (loaded), through the workspace's
 * combined calls (`sodium-chacha.ts`) against node:crypto as `nodeSealInto` / `nodeOpen` use it (seal / open,
 * us per message, the fastest of 15 batches):
 *
 *   size        libsodium        node:crypto
 *   1 KiB       2.4 / 3.1        3.5 / 3.6
 *   1.5 KiB     3.4 / 4.0        4.2 / 3.9    <- open's crossover (`CHACHA_NODE_OPEN_THRESHOLD`)
 *   1.75 KiB    4.0 / 4.3        4.2 / 4.1
 *   2 KiB       4.5 / 5.0        4.3 / 4.1    <- seal's crossover
 *   4 KiB       8.6 / 9.8        4.9 / 4.7
 *   16 KiB     33.9 / 35.6      10.5 / 10.2
 */
export const CHACHA_NODE_THRESHOLD = 2048;
/** Plaintext length from which ChaCha20-Poly1305 opens with node:crypto (see `CHACHA_NODE_THRESHOLD`). */
export const CHACHA_NODE_OPEN_THRESHOLD = 1536;

type NodeAlgorithm = 'chacha20-poly1305' | 'aes-256-gcm';

const EMPTY = new Uint8Array(0);

/**
 * An AEAD over 32-byte keys and 12-byte nonces. The caller checks lengths; these functions only compute.
 * Sealing gives ciphertext || 16-byte tag; opening gives `undefined` when the tag does not verify (any
 * reason, a ciphertext shorter than a tag included), so each layer throws its own opaque error.
 */
export interface Aead {
  readonly algorithm: AeadAlgorithm;
  /** A new array holding ciphertext || tag. */
  seal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * Writes ciphertext || tag (plaintext.length + 16 bytes) into `out` at `offset`. With `more`, the
   * plaintext is `plaintext || more` (a frame's header and a message body where they lie, so the body is not
   * first copied next to its header).
   */
  sealInto(
    key: Uint8Array,
    nonce: Uint8Array,
    ad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    offset: number,
    more?: Uint8Array,
  ): void;
  /**
   * ciphertext || tag as parts that are not joined: node:crypto's outputs as it gives them (the ciphertext of
   * `plaintext`, of `more` if any, then the tag), so that a large frame's ciphertext is never copied into a
   * buffer of the frame's (see `ByteParts`). Below the size where node:crypto seals, one part.
   */
  sealParts(
    key: Uint8Array,
    nonce: Uint8Array,
    ad: Uint8Array,
    plaintext: Uint8Array,
    more?: Uint8Array,
  ): Uint8Array[];
  /** The plaintext, or `undefined` if the ciphertext does not authenticate. */
  open(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined;
}

function nodeCipher(
  algorithm: NodeAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  length: number,
) {
  const cipher =
    algorithm === 'aes-256-gcm'
      ? createCipheriv(algorithm, key, nonce)
      : createCipheriv(algorithm, key, nonce, { authTagLength: AEAD_TAG_LENGTH });
  // Empty associated data authenticates the same as none; skipping the call saves a native round trip.
  if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: length });
  return cipher;
}

function nodeSealInto(
  algorithm: NodeAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
  out: Uint8Array,
  offset: number,
  more: Uint8Array = EMPTY,
): void {
  const length = plaintext.length + more.length;
  const cipher = nodeCipher(algorithm, key, nonce, ad, length);
  // node:crypto cannot write into a caller's buffer: update's output is copied once, into place.
  out.set(cipher.update(plaintext), offset);
  if (more.length > 0) out.set(cipher.update(more), offset + plaintext.length);
  cipher.final(); // a stream cipher mode: final() emits nothing, it only computes the tag
  out.set(cipher.getAuthTag(), offset + length);
}

/** `Aead.sealParts` through node:crypto: its outputs, not copied. */
function nodeSealParts(
  algorithm: NodeAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
  more: Uint8Array = EMPTY,
): Uint8Array[] {
  const cipher = nodeCipher(algorithm, key, nonce, ad, plaintext.length + more.length);
  const parts: Uint8Array[] = [cipher.update(plaintext)];
  if (more.length > 0) parts.push(cipher.update(more));
  cipher.final();
  parts.push(cipher.getAuthTag());
  return parts;
}

function nodeSeal(
  algorithm: NodeAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(plaintext.length + AEAD_TAG_LENGTH);
  nodeSealInto(algorithm, key, nonce, ad, plaintext, out, 0);
  return out;
}

function nodeOpen(
  algorithm: NodeAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array | undefined {
  const length = ciphertext.length - AEAD_TAG_LENGTH;
  const decipher =
    algorithm === 'aes-256-gcm'
      ? createDecipheriv(algorithm, key, nonce)
      : createDecipheriv(algorithm, key, nonce, { authTagLength: AEAD_TAG_LENGTH });
  decipher.setAuthTag(ciphertext.subarray(length));
  if (ad.length > 0) decipher.setAAD(ad, { plaintextLength: length });
  const plaintext = decipher.update(ciphertext.subarray(0, length));
  try {
    decipher.final();
  } catch {
    plaintext.fill(0); // never leave unauthenticated plaintext lying around
    return undefined;
  }
  // A plain Uint8Array view over the Buffer's bytes (no copy), so callers never meet Buffer#slice's aliasing.
  return new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
}

/**
 * Below the threshold (at most `SODIUM_MESSAGE_MAX`, tested), libsodium through one reused region of its
 * memory (`sodium-chacha.ts`), unless the
 * associated data is longer than that region holds (the wrappers' per-call buffers then).
 */
function viaWorkspace(ad: Uint8Array): boolean {
  return ad.length <= SODIUM_AD_MAX;
}

/** ChaCha20-Poly1305: libsodium below the thresholds (seal, open) of plaintext, node:crypto from there. */
const chacha20poly1305: Aead = {
  algorithm: 'chacha20poly1305',
  seal(key, nonce, ad, plaintext) {
    if (plaintext.length >= CHACHA_NODE_THRESHOLD) {
      return nodeSeal('chacha20-poly1305', key, nonce, ad, plaintext);
    }
    if (viaWorkspace(ad)) {
      const out = new Uint8Array(plaintext.length + AEAD_TAG_LENGTH);
      sodiumChaCha().sealInto(key, nonce, ad, plaintext, out, 0);
      return out;
    }
    return sodium().crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
  },
  sealParts(key, nonce, ad, plaintext, more = EMPTY) {
    const length = plaintext.length + more.length;
    if (length >= CHACHA_NODE_THRESHOLD)
      return nodeSealParts('chacha20-poly1305', key, nonce, ad, plaintext, more);
    const out = new Uint8Array(length + AEAD_TAG_LENGTH);
    this.sealInto(key, nonce, ad, plaintext, out, 0, more);
    return [out];
  },
  sealInto(key, nonce, ad, plaintext, out, offset, more = EMPTY) {
    if (plaintext.length + more.length >= CHACHA_NODE_THRESHOLD) {
      nodeSealInto('chacha20-poly1305', key, nonce, ad, plaintext, out, offset, more);
    } else if (viaWorkspace(ad)) {
      sodiumChaCha().sealInto(key, nonce, ad, plaintext, out, offset, more);
    } else {
      const whole = more.length === 0 ? plaintext : concat(plaintext, more);
      out.set(sodium().crypto_aead_chacha20poly1305_ietf_encrypt(whole, ad, null, nonce, key), offset);
    }
  },
  open(key, nonce, ad, ciphertext) {
    if (ciphertext.length < AEAD_TAG_LENGTH) return undefined;
    const length = ciphertext.length - AEAD_TAG_LENGTH;
    if (length >= CHACHA_NODE_OPEN_THRESHOLD)
      return nodeOpen('chacha20-poly1305', key, nonce, ad, ciphertext);
    if (viaWorkspace(ad)) return sodiumChaCha().open(key, nonce, ad, ciphertext);
    try {
      return sodium().crypto_aead_chacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, key);
    } catch {
      return undefined;
    }
  },
};

/** AES-256-GCM through node:crypto only. */
const aes256gcm: Aead = {
  algorithm: 'aes256gcm',
  seal: (key, nonce, ad, plaintext) => nodeSeal('aes-256-gcm', key, nonce, ad, plaintext),
  sealInto(key, nonce, ad, plaintext, out, offset, more) {
    nodeSealInto('aes-256-gcm', key, nonce, ad, plaintext, out, offset, more);
  },
  sealParts: (key, nonce, ad, plaintext, more) =>
    nodeSealParts('aes-256-gcm', key, nonce, ad, plaintext, more),
  open(key, nonce, ad, ciphertext) {
    if (ciphertext.length < AEAD_TAG_LENGTH) return undefined;
    return nodeOpen('aes-256-gcm', key, nonce, ad, ciphertext);
  },
};

/** The AEADs by algorithm. */
export const aeads: Readonly<Record<AeadAlgorithm, Aead>> = { chacha20poly1305, aes256gcm };
