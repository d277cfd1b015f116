/**
 * The AEADs and HKDF of the crypto layer, which the Noise core uses, against their published vectors and
 * node:crypto. (The vault once exposed them too; nothing outside the tests called them there.)
 */
import { createCipheriv, hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { aeads, hashers, hkdf, sodiumReady, type AeadAlgorithm, type HashAlgorithm } from '../../src/crypto';
import { flipped, hex, toHex } from '../vault/helpers';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const range = (from: number, to: number): Uint8Array =>
  Uint8Array.from({ length: to - from + 1 }, (_, i) => from + i);
const empty = new Uint8Array(0);

const derive = (
  algorithm: HashAlgorithm,
  salt: Uint8Array,
  ikm: Uint8Array,
  info: Uint8Array,
  length: number,
) => hkdf(hashers[algorithm], salt, ikm, info, length);
const seal = (
  algorithm: AeadAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
) => aeads[algorithm].seal(key, nonce, ad, plaintext);
const open = (
  algorithm: AeadAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  ad: Uint8Array,
) => aeads[algorithm].open(key, nonce, ad, sealed);

// RFC 5869 appendix A, test cases 1-3 (HKDF-SHA-256).
const HKDF_VECTORS = [
  {
    name: 'case 1 (basic)',
    ikm: hex('0b'.repeat(22)),
    salt: range(0x00, 0x0c),
    info: range(0xf0, 0xf9),
    okm: '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
  },
  {
    name: 'case 2 (longer inputs, three blocks)',
    ikm: range(0x00, 0x4f),
    salt: range(0x60, 0xaf),
    info: range(0xb0, 0xff),
    okm:
      'b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f0' +
      '9b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87',
  },
  {
    name: 'case 3 (empty salt and info)',
    ikm: hex('0b'.repeat(22)),
    salt: empty,
    info: empty,
    okm: '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
  },
];

const NODE_DIGEST: Record<HashAlgorithm, string> = {
  sha256: 'sha256',
  sha512: 'sha512',
  blake2b: 'blake2b512',
  blake2s: 'blake2s256',
};

// RFC 8439 section 2.8.2.
const CHACHA_VECTOR = {
  key: range(0x80, 0x9f),
  nonce: hex('070000004041424344454647'),
  ad: hex('50515253c0c1c2c3c4c5c6c7'),
  plaintext: utf8(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  ),
  sealed:
    'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b' +
    '2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586ce' +
    'c64b6116' +
    '1ae10b594f09e26a7e902ecbd0600691',
};

// The GCM specification (McGrew and Viega), test case 14: AES-256, zero key and IV, one zero block.
const GCM_VECTOR = { sealed: 'cea7403d4d606b6e074ec5d3baf39d18' + 'd0d1c8a799996bf0265b98b5d48ab919' };

beforeAll(() => sodiumReady());

describe('crypto layer', () => {
  describe('hkdf', () => {
    it.each(HKDF_VECTORS)('matches RFC 5869 HKDF-SHA-256 $name', ({ ikm, salt, info, okm }) => {
      expect(toHex(derive('sha256', salt, ikm, info, okm.length / 2))).toBe(okm);
    });

    it.each(Object.keys(NODE_DIGEST) as HashAlgorithm[])(
      'agrees with node:crypto hkdfSync for %s',
      (algorithm) => {
        fc.assert(
          fc.property(
            fc.uint8Array({ maxLength: 80 }),
            fc.uint8Array({ maxLength: 200 }),
            fc.uint8Array({ maxLength: 80 }),
            fc.integer({ min: 0, max: 300 }),
            (salt, ikm, info, length) => {
              const expected = new Uint8Array(hkdfSync(NODE_DIGEST[algorithm], ikm, salt, info, length));
              expect(toHex(derive(algorithm, salt, ikm, info, length))).toBe(toHex(expected));
            },
          ),
          { numRuns: 40 },
        );
      },
    );
  });

  describe('aead', () => {
    it('matches the RFC 8439 ChaCha20-Poly1305 vector', () => {
      const { key, nonce, ad, plaintext, sealed } = CHACHA_VECTOR;
      expect(toHex(seal('chacha20poly1305', key, nonce, plaintext, ad))).toBe(sealed);
      expect(open('chacha20poly1305', key, nonce, hex(sealed), ad)).toEqual(plaintext);
    });

    it('matches the GCM specification AES-256 test case 14', () => {
      const zero = (n: number): Uint8Array => new Uint8Array(n);
      expect(toHex(seal('aes256gcm', zero(32), zero(12), zero(16), empty))).toBe(GCM_VECTOR.sealed);
      expect(open('aes256gcm', zero(32), zero(12), hex(GCM_VECTOR.sealed), empty)).toEqual(zero(16));
    });

    describe.each(['chacha20poly1305', 'aes256gcm'] as const)('%s', (algorithm) => {
      const key = range(1, 32);
      const nonce = range(100, 111);
      const ad = utf8('header');
      const plaintext = utf8('a secret message');

      it('round-trips any plaintext and associated data, appending a 16-byte tag', () => {
        fc.assert(
          fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 40 }), (data, extra) => {
            const sealed = seal(algorithm, key, nonce, data, extra);
            expect(sealed).toHaveLength(data.length + 16);
            expect(open(algorithm, key, nonce, sealed, extra)).toEqual(data);
          }),
          { numRuns: 50 },
        );
      });

      it('agrees with node:crypto', () => {
        const options = { authTagLength: 16 };
        const cipher =
          algorithm === 'aes256gcm'
            ? createCipheriv('aes-256-gcm', key, nonce, options)
            : createCipheriv('chacha20-poly1305', key, nonce, options);
        cipher.setAAD(ad, { plaintextLength: plaintext.length });
        const expected = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
        expect(toHex(seal(algorithm, key, nonce, plaintext, ad))).toBe(expected.toString('hex'));
      });

      it('opens nothing that was tampered with', () => {
        const sealed = seal(algorithm, key, nonce, plaintext, ad);
        const attempts: [string, () => unknown][] = [
          ['ciphertext byte', () => open(algorithm, key, nonce, flipped(sealed, 0), ad)],
          ['tag byte', () => open(algorithm, key, nonce, flipped(sealed, sealed.length - 1), ad)],
          ['associated data', () => open(algorithm, key, nonce, sealed, flipped(ad, 0))],
          ['nonce', () => open(algorithm, key, flipped(nonce, 11), sealed, ad)],
          ['key', () => open(algorithm, flipped(key, 5), nonce, sealed, ad)],
          ['truncated', () => open(algorithm, key, nonce, sealed.subarray(1), ad)],
          ['shorter than a tag', () => open(algorithm, key, nonce, sealed.subarray(0, 15), ad)],
          ['empty', () => open(algorithm, key, nonce, empty, ad)],
        ];
        for (const [what, attempt] of attempts) expect([what, attempt()]).toEqual([what, undefined]);
      });
    });
  });
});
