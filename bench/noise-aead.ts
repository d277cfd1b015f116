/**
 * Micro-benchmark behind the ChaChaPoly backend threshold in src/noise/cipher-functions.ts: libsodium's WASM
 * ChaCha20-Poly1305 against node:crypto's 'chacha20-poly1305' (and AES-256-GCM for reference) at the message
 * sizes the channel layer sends, and the shipped CipherState on top. Run: `npx ts-node bench/noise-aead.ts
 * [sizes...]`.
 */
import { createCipheriv, createDecipheriv, createSecretKey, KeyObject, randomBytes } from 'node:crypto';
import { CipherState } from '../src/noise';
import { cipherFunction } from '../src/noise/cipher-functions';
import { sodiumReady } from '../src/crypto/sodium';

type Seal = (nonce: Uint8Array, ad: Uint8Array, pt: Uint8Array) => Uint8Array;
type Open = (nonce: Uint8Array, ad: Uint8Array, ct: Uint8Array) => Uint8Array;

function nodeSeal(algorithm: 'chacha20-poly1305' | 'aes-256-gcm', key: Uint8Array | KeyObject): Seal {
  return (nonce, ad, pt) => {
    const cipher = createCipheriv(algorithm as 'chacha20-poly1305', key, nonce, { authTagLength: 16 });
    if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: pt.length });
    const body = cipher.update(pt);
    cipher.final();
    const out = Buffer.allocUnsafe(pt.length + 16);
    out.set(body, 0);
    out.set(cipher.getAuthTag(), pt.length);
    return out;
  };
}

function nodeOpen(algorithm: 'chacha20-poly1305' | 'aes-256-gcm', key: Uint8Array | KeyObject): Open {
  return (nonce, ad, ct) => {
    const n = ct.length - 16;
    const decipher = createDecipheriv(algorithm as 'chacha20-poly1305', key, nonce, { authTagLength: 16 });
    decipher.setAuthTag(ct.subarray(n));
    if (ad.length > 0) decipher.setAAD(ad, { plaintextLength: n });
    const out = decipher.update(ct.subarray(0, n));
    decipher.final();
    return out;
  };
}

function measure(label: string, size: number, run: () => void): void {
  const target = 64 * 1024 * 1024; // bytes per measurement: long enough to drown the timer noise
  const iterations = Math.max(2000, Math.ceil(target / size));
  for (let i = 0; i < Math.min(iterations, 5000); i++) run(); // warm up the JIT
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) run();
  const ns = Number(process.hrtime.bigint() - start);
  const mbs = (size * iterations) / 1e6 / (ns / 1e9);
  const usPerOp = ns / iterations / 1000;
  console.log(
    `${label.padEnd(34)} ${String(size).padStart(6)} B  ${mbs.toFixed(0).padStart(6)} MB/s  ${usPerOp.toFixed(2)} us/op`,
  );
}

async function main(): Promise<void> {
  const s = await sodiumReady();
  const key = randomBytes(32);
  const nonce = new Uint8Array(12);
  const ad = new Uint8Array(0);
  const sodiumSeal: Seal = (n, a, pt) => s.crypto_aead_chacha20poly1305_ietf_encrypt(pt, a, null, n, key);
  const sodiumOpen: Open = (n, a, ct) => s.crypto_aead_chacha20poly1305_ietf_decrypt(null, ct, a, n, key);
  // The shipped path: CipherState picks the backend by size (explicit nonce 0 is fine for a benchmark only).
  const chacha = new CipherState(cipherFunction('ChaChaPoly'), key);
  const aes = new CipherState(cipherFunction('AESGCM'), key);
  const backends: [string, Seal, Open][] = [
    [
      'CipherState ChaChaPoly',
      (_n, a, pt) => chacha.encryptWithNonce(0, a, pt),
      (_n, a, ct) => chacha.decryptWithNonce(0, a, ct),
    ],
    [
      'CipherState AESGCM',
      (_n, a, pt) => aes.encryptWithNonce(0, a, pt),
      (_n, a, ct) => aes.decryptWithNonce(0, a, ct),
    ],
    ['libsodium chacha20-poly1305', sodiumSeal, sodiumOpen],
    ['node:crypto chacha20-poly1305', nodeSeal('chacha20-poly1305', key), nodeOpen('chacha20-poly1305', key)],
    [
      'node:crypto chacha KeyObject',
      nodeSeal('chacha20-poly1305', createSecretKey(key)),
      nodeOpen('chacha20-poly1305', createSecretKey(key)),
    ],
    ['node:crypto aes-256-gcm', nodeSeal('aes-256-gcm', key), nodeOpen('aes-256-gcm', key)],
  ];
  const sizes = process.argv.slice(2).map(Number);
  for (const size of sizes.length > 0 ? sizes : [64, 256, 512, 1024, 2048, 4096, 16384, 65535 - 16]) {
    const pt = randomBytes(size);
    for (const [name, seal, open] of backends) {
      const ct = seal(nonce, ad, pt);
      measure(`${name} seal`, size, () => seal(nonce, ad, pt));
      measure(`${name} open`, size, () => open(nonce, ad, ct));
    }
  }
}

void main();
