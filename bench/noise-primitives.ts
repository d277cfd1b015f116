/**
 * Micro-benchmark behind the Noise core's backend choices (src/noise/x25519.ts, hash-functions.ts,
 * cipher-functions.ts): each primitive a handshake uses, through libsodium's WASM build and through
 * node:crypto, in the same run. Run: `npx ts-node bench/noise-primitives.ts`. Prints µs per operation on
 * the CPU clock (this process's user + system time), so a busy neighbour inflates both columns alike.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
} from 'node:crypto';
import { sodiumReady } from '../src/crypto/sodium';

const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function measure(label: string, iterations: number, run: () => unknown): void {
  for (let i = 0; i < Math.min(iterations, 500); i++) run(); // warm up the JIT
  const start = cpuMicros();
  for (let i = 0; i < iterations; i++) run();
  const us = (cpuMicros() - start) / iterations;
  console.log(`${label.padEnd(52)} ${us.toFixed(2).padStart(8)} µs/op`);
}

async function main(): Promise<void> {
  const s = await sodiumReady();
  const n = Number(process.argv[2] ?? 2000);
  const a = randomBytes(32);
  const b = randomBytes(32);
  const bPublic = s.crypto_scalarmult_base(b);
  const aKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, a]), format: 'der', type: 'pkcs8' });
  const bPublicKey = createPublicKey({
    key: Buffer.concat([SPKI_X25519, bPublic]),
    format: 'der',
    type: 'spki',
  });

  console.log('X25519');
  measure('libsodium crypto_scalarmult_base (public key)', n, () => s.crypto_scalarmult_base(a));
  measure('libsodium crypto_scalarmult (DH)', n, () => s.crypto_scalarmult(a, bPublic));
  measure('node generateKeyPairSync x25519 + export raw public', n, () => {
    const { publicKey } = generateKeyPairSync('x25519');
    return publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  });
  measure('node createPrivateKey(pkcs8) + createPublicKey + export', n, () => {
    const key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, a]), format: 'der', type: 'pkcs8' });
    return createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(12);
  });
  measure('node diffieHellman (both KeyObjects ready)', n, () =>
    diffieHellman({ privateKey: aKey, publicKey: bPublicKey }),
  );
  measure('node createPublicKey(spki) + diffieHellman', n, () =>
    diffieHellman({
      privateKey: aKey,
      publicKey: createPublicKey({ key: Buffer.concat([SPKI_X25519, bPublic]), format: 'der', type: 'spki' }),
    }),
  );
  measure('node createPrivateKey + createPublicKey + diffieHellman', n, () =>
    diffieHellman({
      privateKey: createPrivateKey({ key: Buffer.concat([PKCS8_X25519, a]), format: 'der', type: 'pkcs8' }),
      publicKey: createPublicKey({ key: Buffer.concat([SPKI_X25519, bPublic]), format: 'der', type: 'spki' }),
    }),
  );

  const h = randomBytes(32);
  const d = randomBytes(48);
  const m = n * 10;
  console.log('SHA-256 / HMAC-SHA-256 (32 + 48 bytes)');
  measure('node createHash sha256', m, () => createHash('sha256').update(h).update(d).digest());
  measure('libsodium crypto_hash_sha256 (concatenated input)', m, () =>
    s.crypto_hash_sha256(Buffer.concat([h, d])),
  );
  measure('node createHmac sha256', m, () => createHmac('sha256', h).update(d).digest());
  measure('libsodium crypto_auth_hmacsha256 (32-byte key)', m, () => s.crypto_auth_hmacsha256(d, h));

  const key = randomBytes(32);
  const nonce = new Uint8Array(12);
  const ad = randomBytes(32);
  console.log('ChaCha20-Poly1305 (ad 32 bytes)');
  for (const size of [0, 32, 100]) {
    const pt = randomBytes(size);
    const ct = s.crypto_aead_chacha20poly1305_ietf_encrypt(pt, ad, null, nonce, key);
    measure(`libsodium seal ${size} B`, m, () =>
      s.crypto_aead_chacha20poly1305_ietf_encrypt(pt, ad, null, nonce, key),
    );
    measure(`libsodium open ${size} B`, m, () =>
      s.crypto_aead_chacha20poly1305_ietf_decrypt(null, ct, ad, nonce, key),
    );
    measure(`node seal ${size} B`, m, () => {
      const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
      c.setAAD(ad, { plaintextLength: size });
      const body = c.update(pt);
      c.final();
      return [body, c.getAuthTag()];
    });
    measure(`node open ${size} B`, m, () => {
      const c = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
      c.setAuthTag(ct.subarray(size));
      c.setAAD(ad, { plaintextLength: size });
      const body = c.update(ct.subarray(0, size));
      c.final();
      return body;
    });
  }
}

void main();
