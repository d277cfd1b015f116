/**
 * Baselines of the channel benchmarks: the AEAD work a secure channel must at least do, with nothing around
 * it. Each `Aead` seals and opens one Noise transport message at an explicit nonce: Sealroute's own
 * `CipherState` (which picks libsodium or node:crypto by size, `CHACHA_NODE_THRESHOLD`), or one backend
 * forced, to show what that choice is worth.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CipherState, MAX_PLAINTEXT_LENGTH, TAG_LENGTH, cipherFunction } from '../../src/noise';
import { sodium } from '../../src/crypto/sodium';
import { startClock, type ClockKind } from '../harness';

/** ENCRYPT and DECRYPT of one ChaChaPoly message at nonce `n`; `open` throws if it does not authenticate. */
export interface Aead {
  seal(n: number, plaintext: Uint8Array): Uint8Array;
  open(n: number, ciphertext: Uint8Array): Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** The shipped path, as the channel calls it: `encryptWithNonce` / `decryptWithNonce`. */
export function cipherStateAead(key: Uint8Array): Aead {
  const cipher = new CipherState(cipherFunction('ChaChaPoly'), key);
  return {
    seal: (n, plaintext) => cipher.encryptWithNonce(n, EMPTY, plaintext),
    open: (n, ciphertext) => cipher.decryptWithNonce(n, EMPTY, ciphertext),
  };
}

/** ChaChaPoly's nonce (spec 12.3): 4 zero bytes, then n as a little-endian 64-bit integer. */
function chachaNonce(into: Uint8Array, n: number): Uint8Array {
  const view = new DataView(into.buffer, into.byteOffset, 12);
  view.setUint32(0, 0);
  view.setUint32(4, n >>> 0, true);
  view.setUint32(8, Math.floor(n / 0x1_0000_0000), true);
  return into;
}

/** libsodium's (WASM) IETF ChaCha20-Poly1305 at every size. Needs `sodiumReady()`. */
export function libsodiumAead(key: Uint8Array): Aead {
  const s = sodium();
  const nonce = new Uint8Array(12);
  return {
    seal: (n, plaintext) =>
      s.crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, EMPTY, null, chachaNonce(nonce, n), key),
    open: (n, ciphertext) =>
      s.crypto_aead_chacha20poly1305_ietf_decrypt(null, ciphertext, EMPTY, chachaNonce(nonce, n), key),
  };
}

/** node:crypto's (OpenSSL) 'chacha20-poly1305' at every size, written as Sealroute's backend is. */
export function nodeAead(key: Uint8Array): Aead {
  const nonce = new Uint8Array(12);
  return {
    seal(n, plaintext) {
      const cipher = createCipheriv('chacha20-poly1305', key, chachaNonce(nonce, n), {
        authTagLength: TAG_LENGTH,
      });
      const body = cipher.update(plaintext);
      cipher.final();
      const out = new Uint8Array(plaintext.length + TAG_LENGTH);
      out.set(body, 0);
      out.set(cipher.getAuthTag(), plaintext.length);
      return out;
    },
    open(n, ciphertext) {
      const length = ciphertext.length - TAG_LENGTH;
      const decipher = createDecipheriv('chacha20-poly1305', key, chachaNonce(nonce, n), {
        authTagLength: TAG_LENGTH,
      });
      decipher.setAuthTag(ciphertext.subarray(length));
      const plaintext = decipher.update(ciphertext.subarray(0, length));
      decipher.final();
      return plaintext;
    },
  };
}

/**
 * Seals and opens `count` messages of `size` bytes, each cut into the fewest Noise messages that hold it
 * (a 64 KiB message is two: 65519 + 17 bytes), at sequential nonces as a channel uses them. Returns MB/s
 * (10^6 bytes) of message bytes on `clock`.
 */
export function aeadThroughput(aead: Aead, size: number, count: number, clock: ClockKind): number {
  const pieces: Uint8Array[] = [];
  const message = randomBytes(size);
  for (let at = 0; at < size; at += MAX_PLAINTEXT_LENGTH) {
    pieces.push(message.subarray(at, Math.min(size, at + MAX_PLAINTEXT_LENGTH)));
  }
  let n = 0;
  let check = 0;
  const started = startClock(clock);
  for (let i = 0; i < count; i++) {
    for (const piece of pieces) {
      const opened = aead.open(n, aead.seal(n, piece));
      check += opened.length;
      n++;
    }
  }
  const rate = started.perSecond((count * size) / 1e6);
  if (check !== count * size) throw new Error(`opened ${check} bytes, expected ${count * size}`);
  return rate;
}
