import { createCipheriv, randomBytes } from 'node:crypto';
import {
  CHACHA_NODE_THRESHOLD,
  CipherName,
  cipherFunction,
  CipherState,
  NoiseError,
  NoiseErrorCode,
} from '../../src/noise';

import { CHACHA_NODE_OPEN_THRESHOLD } from '../../src/crypto/aead';
import { sodium, sodiumReady } from '../../src/crypto/sodium';
import { setNonce } from '../helpers/cipher-nonce';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const empty = new Uint8Array(0);
const MAX_NONCE = 2n ** 64n - 1n;

function expectCode(action: () => unknown, code: NoiseErrorCode): NoiseError {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(NoiseError);
  expect((caught as NoiseError).code).toBe(code);
  return caught as NoiseError;
}

/** Two cipher states over one key: a sender and a receiver, as after a handshake. */
function pair(name: CipherName, key: Uint8Array = randomBytes(32)): [CipherState, CipherState] {
  return [new CipherState(cipherFunction(name), key), new CipherState(cipherFunction(name), key)];
}

/**
 * An independent reference: the spec's ENCRYPT(k, n, ad, plaintext) built straight on node:crypto, with
 * the nonce laid out by hand (4 zero bytes, then n little-endian for ChaChaPoly, big-endian for AESGCM).
 */
function referenceEncrypt(
  name: CipherName,
  k: Uint8Array,
  n: bigint,
  ad: Uint8Array,
  pt: Uint8Array,
): Uint8Array {
  const nonce = Buffer.alloc(12);
  if (name === 'ChaChaPoly') nonce.writeBigUInt64LE(n, 4);
  else nonce.writeBigUInt64BE(n, 4);
  const cipher =
    name === 'ChaChaPoly'
      ? createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: 16 })
      : createCipheriv('aes-256-gcm', k, nonce);
  cipher.setAAD(ad, { plaintextLength: pt.length });
  const body = Buffer.concat([cipher.update(pt), cipher.final()]);
  return Buffer.concat([body, cipher.getAuthTag()]);
}

beforeAll(async () => {
  await sodiumReady();
});

describe.each(['ChaChaPoly', 'AESGCM'] as const)('CipherState (%s)', (name) => {
  it('round-trips with the internal counter, which advances per message', () => {
    const [send, receive] = pair(name);
    for (let i = 0; i < 5; i++) {
      const pt = randomBytes(i * 100);
      const ad = randomBytes(i);
      expect(send.nonce).toBe(BigInt(i));
      const ct = send.encryptWithAd(ad, pt);
      expect(ct).toHaveLength(pt.length + 16);
      expect(hex(receive.decryptWithAd(ad, ct))).toBe(hex(pt));
    }
    expect(send.nonce).toBe(5n);
    expect(receive.nonce).toBe(5n);
  });

  it('matches an independent ENCRYPT for small and large counters, including the 32-bit carry', () => {
    const key = randomBytes(32);
    const [cs] = pair(name, key);
    const pt = randomBytes(100);
    const ad = randomBytes(10);
    for (const n of [0n, 1n, 0xffff_ffffn, 0x1_0000_0000n, 0x0102_0304_0506_0708n, MAX_NONCE - 1n]) {
      const expected = hex(referenceEncrypt(name, key, n, ad, pt));
      expect(hex(cs.encryptWithNonce(n, ad, pt))).toBe(expected);
      if (n <= BigInt(Number.MAX_SAFE_INTEGER))
        expect(hex(cs.encryptWithNonce(Number(n), ad, pt))).toBe(expected);
      setNonce(cs, n);
      expect(hex(cs.encryptWithAd(ad, pt))).toBe(expected);
      expect(cs.nonce).toBe(n + 1n);
    }
    // The internal counter carries from the low half into the high half.
    setNonce(cs, 0xffff_ffffn);
    cs.encryptWithAd(ad, pt);
    expect(cs.nonce).toBe(0x1_0000_0000n);
    expect(hex(cs.encryptWithAd(ad, pt))).toBe(hex(referenceEncrypt(name, key, 0x1_0000_0000n, ad, pt)));
  });

  it('decrypts with explicit nonces out of order without touching the counter', () => {
    const [send, receive] = pair(name);
    const messages = Array.from({ length: 10 }, (_, i) => {
      const pt = randomBytes(50 + i * 500);
      return { n: BigInt(i * 3), pt, ct: send.encryptWithNonce(BigInt(i * 3), empty, pt) };
    });
    for (const i of [7, 2, 9, 0, 5, 1, 8, 3, 6, 4]) {
      const { n, pt, ct } = messages[i]!;
      expect(hex(receive.decryptWithNonce(i % 2 === 0 ? n : Number(n), empty, ct))).toBe(hex(pt));
    }
    expect(send.nonce).toBe(0n);
    expect(receive.nonce).toBe(0n);
    // The wrong nonce fails.
    expectCode(() => receive.decryptWithNonce(1n, empty, messages[0]!.ct), 'DECRYPT_FAILED');
  });

  it('rejects tampered ciphertext, a wrong ad and a wrong key with an opaque DECRYPT_FAILED', () => {
    for (const size of [0, 64, CHACHA_NODE_THRESHOLD - 1, CHACHA_NODE_THRESHOLD, 20000]) {
      const [send, receive] = pair(name);
      const pt = randomBytes(size);
      const ct = send.encryptWithAd(empty, pt);
      for (const index of [0, Math.floor(ct.length / 2), Math.max(0, ct.length - 17), ct.length - 1]) {
        const tampered = Uint8Array.from(ct);
        tampered[index]! ^= 0x80;
        const error = expectCode(() => receive.decryptWithAd(empty, tampered), 'DECRYPT_FAILED');
        expect(error.message).toBe('decryption failed');
        expect(receive.nonce).toBe(0n); // a failed decryption does not advance n (spec 5.1)
      }
      expectCode(() => receive.decryptWithAd(Uint8Array.of(1), ct), 'DECRYPT_FAILED');
      expectCode(() => receive.decryptWithAd(empty, ct.subarray(0, ct.length - 1)), 'DECRYPT_FAILED');
      expectCode(() => receive.decryptWithAd(empty, ct.subarray(0, 15)), 'DECRYPT_FAILED');
      const [, stranger] = pair(name);
      expectCode(() => stranger.decryptWithAd(empty, ct), 'DECRYPT_FAILED');
      // The genuine message still decrypts at the same nonce.
      expect(hex(receive.decryptWithAd(empty, ct))).toBe(hex(pt));
    }
  });

  it('rekeys per spec (first 32 bytes of ENCRYPT(k, 2^64-1, empty, zeros)) and stays in sync', () => {
    const key = randomBytes(32);
    const [send, receive] = pair(name, key);
    const pt = randomBytes(3000);
    receive.decryptWithAd(empty, send.encryptWithAd(empty, pt));

    send.rekey();
    receive.rekey();
    expect(send.nonce).toBe(1n); // Rekey() leaves n alone
    const ct = send.encryptWithAd(empty, pt);
    expect(hex(receive.decryptWithAd(empty, ct))).toBe(hex(pt));

    const expectedKey = referenceEncrypt(name, key, MAX_NONCE, empty, new Uint8Array(32)).subarray(0, 32);
    expect(hex(ct)).toBe(hex(referenceEncrypt(name, expectedKey, 1n, empty, pt)));

    // A side that does not rekey falls out of sync.
    send.rekey();
    expectCode(() => receive.decryptWithAd(empty, send.encryptWithAd(empty, pt)), 'DECRYPT_FAILED');
  });

  it.each([0, 100, CHACHA_NODE_THRESHOLD, 5000])(
    'encrypts %i bytes into a caller buffer at an offset, the same bytes as encryptWithNonce',
    (size) => {
      const [send, receive] = pair(name);
      const pt = randomBytes(size);
      const ad = randomBytes(7);
      const out = new Uint8Array(3 + size + 16 + 2).fill(0xaa);
      send.encryptWithNonceInto(41, ad, pt, out, 3);
      const ciphertext = out.subarray(3, 3 + size + 16);
      expect(hex(ciphertext)).toBe(hex(send.encryptWithNonce(41, ad, pt)));
      expect(hex(receive.decryptWithNonce(41, ad, ciphertext))).toBe(hex(pt));
      expect([...out.subarray(0, 3), ...out.subarray(3 + size + 16)]).toEqual([0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);
      expectCode(() => send.encryptWithNonceInto(42, ad, pt, out, 6), 'INVALID_BUFFER');
      // In two parts (a head, then the rest where it lies): the same bytes, the same bounds.
      const parts = new Uint8Array(size + 16);
      send.encryptWithNonceInto(41, ad, pt.subarray(0, 9), parts, 0, pt.subarray(9));
      expect(hex(parts)).toBe(hex(ciphertext));
      expectCode(
        () => send.encryptWithNonceInto(42, ad, pt.subarray(0, 9), parts, 1, pt.subarray(9)),
        'INVALID_BUFFER',
      );
    },
  );

  it('refuses a plaintext in two parts over the Noise limit', () => {
    const [send] = pair(name);
    const out = new Uint8Array(70000);
    const head = new Uint8Array(10);
    expectCode(
      () => send.encryptWithNonceInto(1, empty, head, out, 0, new Uint8Array(65535 - 16 - 9)),
      'MESSAGE_TOO_LARGE',
    );
    send.encryptWithNonceInto(1, empty, head, out, 0, new Uint8Array(65535 - 16 - 10));
  });

  it('reserves nonce 2^64-1', () => {
    const [send, receive] = pair(name);
    setNonce(send, MAX_NONCE - 1n);
    const last = send.encryptWithAd(empty, Uint8Array.of(1));
    expect(send.nonce).toBe(MAX_NONCE);
    expectCode(() => send.encryptWithAd(empty, Uint8Array.of(2)), 'NONCE_EXHAUSTED');
    expectCode(() => send.encryptWithNonce(MAX_NONCE, empty, Uint8Array.of(2)), 'NONCE_EXHAUSTED');
    expectCode(() => receive.decryptWithNonce(MAX_NONCE, empty, last), 'NONCE_EXHAUSTED');
    setNonce(receive, MAX_NONCE);
    expectCode(() => receive.decryptWithAd(empty, last), 'NONCE_EXHAUSTED');
    expect(hex(receive.decryptWithNonce(MAX_NONCE - 1n, empty, last))).toBe('01');
  });

  it('rejects nonces outside 0..2^64-1', () => {
    const [cs] = pair(name);
    for (const n of [-1, 1.5, Number.NaN, 2 ** 53, -1n, 2n ** 64n]) {
      expectCode(() => cs.encryptWithNonce(n, empty, empty), 'INVALID_NONCE');
    }
  });

  it('bounds messages to 65535 bytes', () => {
    const [send, receive] = pair(name);
    const ct = send.encryptWithAd(empty, new Uint8Array(65535 - 16));
    expect(ct).toHaveLength(65535);
    expect(receive.decryptWithAd(empty, ct)).toHaveLength(65519);
    expectCode(() => send.encryptWithAd(empty, new Uint8Array(65535 - 15)), 'MESSAGE_TOO_LARGE');
    expectCode(() => send.encryptWithNonce(5, empty, new Uint8Array(65535 - 15)), 'MESSAGE_TOO_LARGE');
    expectCode(() => receive.decryptWithAd(empty, new Uint8Array(65536)), 'MESSAGE_TOO_LARGE');
    expect(send.nonce).toBe(1n);
  });

  it('passes data through without a key (handshake start) and refuses explicit nonces and rekey', () => {
    const cs = new CipherState(cipherFunction(name));
    expect(cs.hasKey()).toBe(false);
    const data = Uint8Array.of(1, 2, 3);
    expect(cs.encryptWithAd(empty, data)).toBe(data);
    expect(cs.decryptWithAd(empty, data)).toBe(data);
    expectCode(() => cs.encryptWithNonce(0, empty, data), 'MISSING_KEY');
    expectCode(() => cs.rekey(), 'MISSING_KEY');
    expectCode(() => new CipherState(cipherFunction(name), new Uint8Array(31)), 'INVALID_KEY');
  });

  it('copies the key it is given and wipes it on destroy', () => {
    const key = randomBytes(32);
    const [send, receive] = pair(name, key);
    key.fill(0); // the caller wiping its copy does not affect the states
    const ct = send.encryptWithAd(empty, Uint8Array.of(9));
    expect(hex(receive.decryptWithAd(empty, ct))).toBe('09');
    send.destroy();
    expect(send.hasKey()).toBe(false);
  });
});

describe('ChaChaPoly backends', () => {
  it.each([
    0,
    1,
    64,
    1024,
    CHACHA_NODE_OPEN_THRESHOLD - 1,
    CHACHA_NODE_OPEN_THRESHOLD,
    CHACHA_NODE_THRESHOLD - 1,
    CHACHA_NODE_THRESHOLD,
    CHACHA_NODE_THRESHOLD + 1,
    65519,
  ])('libsodium and node:crypto agree at %i bytes, both ways', (size) => {
    const key = randomBytes(32);
    const [send, receive] = pair('ChaChaPoly', key);
    const pt = randomBytes(size);
    const ad = randomBytes(13);
    const n = 0x0102_0304_0506_0708n;
    const nonce = Buffer.alloc(12);
    nonce.writeBigUInt64LE(n, 4);
    const viaSodium = sodium().crypto_aead_chacha20poly1305_ietf_encrypt(pt, ad, null, nonce, key);
    const viaNode = referenceEncrypt('ChaChaPoly', key, n, ad, pt);
    expect(hex(viaSodium)).toBe(hex(viaNode));
    expect(hex(send.encryptWithNonce(n, ad, pt))).toBe(hex(viaSodium));
    expect(hex(receive.decryptWithNonce(n, ad, viaSodium))).toBe(hex(pt));
  });
});
