import { randomBytes } from 'node:crypto';
import { AEAD_TAG_LENGTH, CHACHA_NODE_THRESHOLD, nodeCrypto, sodium, sodiumReady } from '../../src/crypto';
import { sodiumCrypto } from '../../src/crypto/sodium-backend';
import { SODIUM_AD_MAX, SODIUM_MESSAGE_MAX } from '../../src/crypto/sodium-chacha';

beforeAll(async () => {
  await sodiumReady();
});

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('nodeCrypto', () => {
  describe('x25519', () => {
    it('gives the public key and DH output libsodium gives for the same private keys', () => {
      const a = new Uint8Array(randomBytes(32));
      const b = new Uint8Array(randomBytes(32));
      const x = nodeCrypto.x25519;
      const pairA = x.keyPairFromPrivateKey(a);
      const pairB = x.keyPairFromPrivateKey(b);
      expect(hex(pairA.publicKey)).toBe(hex(sodium().crypto_scalarmult_base(a)));
      const shared = x.dh(pairA.privateKey, x.importPublicKey(pairB.publicKey))!;
      expect(hex(shared)).toBe(hex(sodium().crypto_scalarmult(b, pairA.publicKey)));
    });

    it('agrees on both sides of a DH between generated key pairs', () => {
      const x = nodeCrypto.x25519;
      const [p, q] = [x.generateKeyPair(), x.generateKeyPair()];
      const pq = x.dh(p.privateKey, x.importPublicKey(q.publicKey))!;
      expect(hex(pq)).toBe(hex(x.dh(q.privateKey, x.importPublicKey(p.publicKey))!));
      expect(pq).toHaveLength(32);
    });

    it('gives undefined for the all-zero output of a low-order public key', () => {
      const x = nodeCrypto.x25519;
      expect(x.dh(x.generateKeyPair().privateKey, x.importPublicKey(new Uint8Array(32)))).toBeUndefined();
    });
  });

  describe('aead', () => {
    const key = new Uint8Array(randomBytes(32));
    const nonce = new Uint8Array(randomBytes(12));
    const ad = new Uint8Array(randomBytes(20));

    it.each([0, 1, 64, CHACHA_NODE_THRESHOLD - 1, CHACHA_NODE_THRESHOLD, 65535 - AEAD_TAG_LENGTH])(
      'seals ChaCha20-Poly1305 as libsodium does and opens it, at %i bytes (both backends of the threshold)',
      (size) => {
        const aead = nodeCrypto.aead('chacha20poly1305');
        const plaintext = new Uint8Array(randomBytes(size));
        const sealed = aead.seal(key, nonce, ad, plaintext);
        expect(hex(sealed)).toBe(
          hex(sodium().crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key)),
        );
        const into = new Uint8Array(size + AEAD_TAG_LENGTH + 3);
        aead.sealInto(key, nonce, ad, plaintext, into, 3);
        expect(hex(into.subarray(3))).toBe(hex(sealed));
        // The plaintext in two parts (a head and a body where it lies) seals as the whole does.
        for (const cut of [0, 1, size >> 1, size]) {
          const parts = new Uint8Array(size + AEAD_TAG_LENGTH + 3);
          aead.sealInto(key, nonce, ad, plaintext.subarray(0, cut), parts, 3, plaintext.subarray(cut));
          expect(hex(parts.subarray(3))).toBe(hex(sealed));
          for (const other of [nodeCrypto, sodiumCrypto]) {
            const viaOther = new Uint8Array(size + AEAD_TAG_LENGTH);
            other
              .aead('chacha20poly1305')
              .sealInto(key, nonce, ad, plaintext.subarray(0, cut), viaOther, 0, plaintext.subarray(cut));
            expect(hex(viaOther)).toBe(hex(sealed));
          }
        }
        expect(hex(aead.open(key, nonce, ad, sealed)!)).toBe(hex(plaintext));
        const tampered = Uint8Array.from(sealed);
        tampered[tampered.length - 1]! ^= 1;
        expect(aead.open(key, nonce, ad, tampered)).toBeUndefined();
      },
    );

    it('seals AES-256-GCM in two parts as in one', () => {
      const aead = nodeCrypto.aead('aes256gcm');
      const plaintext = new Uint8Array(randomBytes(5000));
      const sealed = aead.seal(key, nonce, ad, plaintext);
      const parts = new Uint8Array(sealed.length);
      aead.sealInto(key, nonce, ad, plaintext.subarray(0, 13), parts, 0, plaintext.subarray(13));
      expect(hex(parts)).toBe(hex(sealed));
    });

    it('opens to undefined whatever is wrong: a short ciphertext, the wrong associated data', () => {
      for (const algorithm of ['chacha20poly1305', 'aes256gcm'] as const) {
        const aead = nodeCrypto.aead(algorithm);
        const sealed = aead.seal(key, nonce, ad, Uint8Array.of(1, 2, 3));
        expect(aead.open(key, nonce, ad, sealed.subarray(0, AEAD_TAG_LENGTH - 1))).toBeUndefined();
        expect(aead.open(key, nonce, new Uint8Array(0), sealed)).toBeUndefined();
        expect([...aead.open(key, nonce, ad, sealed)!]).toEqual([1, 2, 3]);
      }
    });

    it.each([0, 1, 32, SODIUM_AD_MAX, SODIUM_AD_MAX + 1])(
      'seals and opens short messages as libsodium does with %i bytes of associated data, and refuses any change',
      (adLength) => {
        const aead = nodeCrypto.aead('chacha20poly1305');
        const data = new Uint8Array(randomBytes(adLength));
        for (const size of [0, 17, 100]) {
          const plaintext = new Uint8Array(randomBytes(size));
          const expected = sodium().crypto_aead_chacha20poly1305_ietf_encrypt(
            plaintext,
            data,
            null,
            nonce,
            key,
          );
          const sealed = aead.seal(key, nonce, data, plaintext);
          expect(hex(sealed)).toBe(hex(expected));
          expect(hex(aead.open(key, nonce, data, sealed)!)).toBe(hex(plaintext));
          for (let at = 0; at < sealed.length; at += 7) {
            const tampered = Uint8Array.from(sealed);
            tampered[at]! ^= 0x80;
            expect(aead.open(key, nonce, data, tampered)).toBeUndefined();
          }
          if (adLength > 0) {
            const otherAd = Uint8Array.from(data);
            otherAd[0]! ^= 1;
            expect(aead.open(key, nonce, otherAd, sealed)).toBeUndefined();
          }
          const otherNonce = Uint8Array.from(nonce);
          otherNonce[11]! ^= 1;
          expect(aead.open(key, otherNonce, data, sealed)).toBeUndefined();
        }
      },
    );

    it('sends every message below the node:crypto threshold through the libsodium workspace', () => {
      expect(CHACHA_NODE_THRESHOLD).toBeLessThanOrEqual(SODIUM_MESSAGE_MAX);
    });

    it('leaves neither the key nor an opened plaintext in libsodium memory', () => {
      const aead = nodeCrypto.aead('chacha20poly1305');
      const marker = new Uint8Array(32).fill(0xa5);
      // Whole 64-byte blocks: libsodium itself copies a last partial block through a buffer on its stack
      // (as it does under the wrappers), which no caller can wipe.
      const plaintext = new Uint8Array(128).fill(0x5a);
      const sealed = aead.seal(marker, nonce, ad, plaintext);
      expect(aead.open(marker, nonce, ad, sealed)).toEqual(plaintext);
      const heap = (sodium() as unknown as { libsodium: { HEAPU8: Uint8Array } }).libsodium.HEAPU8;
      expect(Buffer.from(heap.buffer, heap.byteOffset, heap.length).indexOf(Buffer.from(marker))).toBe(-1);
      expect(Buffer.from(heap.buffer, heap.byteOffset, heap.length).indexOf(Buffer.from(plaintext))).toBe(-1);
    });
  });
});
