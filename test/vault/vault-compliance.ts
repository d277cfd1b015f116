/**
 * The behaviour every Vault implementation must show, as one suite each implementation's test file runs
 * (after libp2p's interface-compliance-tests).
 */
import { createCipheriv, hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import type { HashAlgorithm, Vault } from '../../src/vault/vault';
import { expectRejects, expectThrows, flipped, hex, toHex } from './helpers';

/** A vault under test, and how to dispose of it. */
export interface VaultHarness {
  readonly vault: Vault;
  teardown(): Promise<void>;
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const range = (from: number, to: number): Uint8Array =>
  Uint8Array.from({ length: to - from + 1 }, (_, i) => from + i);
const empty = new Uint8Array(0);

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

// FIPS 180-2 and RFC 7693 appendices A and B, all over "abc".
const HASH_VECTORS: [HashAlgorithm, string][] = [
  ['sha256', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
  [
    'sha512',
    'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
  ],
  [
    'blake2b',
    'ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923',
  ],
  ['blake2s', '508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982'],
];

const NODE_DIGEST: Record<HashAlgorithm, string> = {
  sha256: 'sha256',
  sha512: 'sha512',
  blake2b: 'blake2b512',
  blake2s: 'blake2s256',
};

// RFC 8032 section 7.1, test 1 (empty message).
const ED25519_VECTOR = {
  publicKey: hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'),
  signature: hex(
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  ),
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

/** Runs the Vault compliance suite against the vaults `setup` makes (a fresh one per test). */
export function describeVaultCompliance(name: string, setup: () => Promise<VaultHarness>): void {
  describe(`${name} (Vault compliance)`, () => {
    let harness: VaultHarness;
    let vault: Vault;

    beforeEach(async () => {
      harness = await setup();
      vault = harness.vault;
    });

    afterEach(async () => {
      await harness.teardown();
    });

    describe('keys', () => {
      it('generates keys with distinct ids and lists their public facts', async () => {
        const x = await vault.generateKey('x25519');
        const e = await vault.generateKey('ed25519');
        const t = await vault.generateKey('x25519', { ephemeral: true });
        expect(new Set([x, e, t]).size).toBe(3);
        const listed = await vault.listKeys();
        expect(listed.map((k) => [k.id, k.type])).toEqual([
          [x, 'x25519'],
          [e, 'ed25519'],
          [t, 'x25519'],
        ]);
        for (const info of listed) {
          expect(info.publicKey).toHaveLength(32);
          expect(await vault.publicKey(info.id)).toEqual(info.publicKey);
        }
      });

      it('hands out copies of public keys', async () => {
        const id = await vault.generateKey('ed25519');
        const publicKey = await vault.publicKey(id);
        const original = publicKey.slice();
        publicKey.fill(0);
        (await vault.listKeys())[0].publicKey.fill(0);
        expect(await vault.publicKey(id)).toEqual(original);
      });

      it('generates keys concurrently without losing any', async () => {
        const ids = await Promise.all(
          Array.from({ length: 8 }, (_, i) => vault.generateKey(i % 2 === 0 ? 'x25519' : 'ed25519')),
        );
        expect(new Set(ids).size).toBe(8);
        expect((await vault.listKeys()).map((k) => k.id).sort()).toEqual([...ids].sort());
      });

      it('reports an unknown id as KEY_NOT_FOUND', async () => {
        await expectRejects(vault.publicKey('no-such-key'), 'KEY_NOT_FOUND');
        await expectRejects(vault.dh('no-such-key', new Uint8Array(32).fill(9)), 'KEY_NOT_FOUND');
        await expectRejects(vault.sign('no-such-key', utf8('x')), 'KEY_NOT_FOUND');
      });

      it.each([false, true])(
        'deletes a key (ephemeral: %s): every later use is KEY_NOT_FOUND',
        async (ephemeral) => {
          const x = await vault.generateKey('x25519', { ephemeral });
          const e = await vault.generateKey('ed25519', { ephemeral });
          const keep = await vault.generateKey('ed25519');
          const peer = await vault.publicKey(x);
          await vault.deleteKey(x);
          await vault.deleteKey(e);
          await expectRejects(vault.publicKey(x), 'KEY_NOT_FOUND');
          await expectRejects(vault.dh(x, peer), 'KEY_NOT_FOUND');
          await expectRejects(vault.sign(e, utf8('x')), 'KEY_NOT_FOUND');
          expect((await vault.listKeys()).map((k) => k.id)).toEqual([keep]);
        },
      );

      it('treats deleting an unknown or already deleted id as a no-op', async () => {
        const id = await vault.generateKey('x25519');
        await vault.deleteKey(id);
        await expect(vault.deleteKey(id)).resolves.toBeUndefined();
        await expect(vault.deleteKey('never-existed')).resolves.toBeUndefined();
      });

      it('refuses an Ed25519 key for DH and an X25519 key for signing (WRONG_KEY_TYPE)', async () => {
        const x = await vault.generateKey('x25519');
        const e = await vault.generateKey('ed25519');
        await expectRejects(vault.dh(e, await vault.publicKey(x)), 'WRONG_KEY_TYPE');
        await expectRejects(vault.sign(x, utf8('x')), 'WRONG_KEY_TYPE');
      });
    });

    describe('dh', () => {
      it('agrees on one shared secret from both sides', async () => {
        const a = await vault.generateKey('x25519');
        const b = await vault.generateKey('x25519', { ephemeral: true });
        const ab = await vault.dh(a, await vault.publicKey(b));
        const ba = await vault.dh(b, await vault.publicKey(a));
        expect(ab).toHaveLength(32);
        expect(toHex(ab)).toBe(toHex(ba));
        expect(ab.some((byte) => byte !== 0)).toBe(true);
        const c = await vault.generateKey('x25519');
        expect(toHex(await vault.dh(a, await vault.publicKey(c)))).not.toBe(toHex(ab));
      });

      it('rejects a low-order or wrong-length peer key as INVALID_PUBLIC_KEY', async () => {
        const a = await vault.generateKey('x25519');
        await expectRejects(vault.dh(a, new Uint8Array(32)), 'INVALID_PUBLIC_KEY');
        await expectRejects(vault.dh(a, new Uint8Array(31).fill(9)), 'INVALID_PUBLIC_KEY');
      });
    });

    describe('sign and verify', () => {
      it('signs so that verify accepts, and rejects any flipped byte', async () => {
        const id = await vault.generateKey('ed25519');
        const publicKey = await vault.publicKey(id);
        const data = utf8('attack at dawn');
        const signature = await vault.sign(id, data);
        expect(signature).toHaveLength(64);
        expect(vault.verify(publicKey, data, signature)).toBe(true);
        for (const i of [0, 31, 32, 63]) {
          expect(vault.verify(publicKey, data, flipped(signature, i))).toBe(false);
        }
        expect(vault.verify(publicKey, flipped(data, 3), signature)).toBe(false);
        expect(vault.verify(flipped(publicKey, 0), data, signature)).toBe(false);
        const other = await vault.publicKey(await vault.generateKey('ed25519'));
        expect(vault.verify(other, data, signature)).toBe(false);
      });

      it('verifies any data, and no signature survives a flipped bit', async () => {
        const id = await vault.generateKey('ed25519');
        const publicKey = await vault.publicKey(id);
        await fc.assert(
          fc.asyncProperty(fc.uint8Array({ maxLength: 256 }), fc.nat(511), async (data, bit) => {
            const signature = await vault.sign(id, data);
            expect(vault.verify(publicKey, data, signature)).toBe(true);
            expect(vault.verify(publicKey, data, flipped(signature, bit >> 3, 1 << (bit & 7)))).toBe(false);
          }),
          { numRuns: 50 },
        );
      });

      it('answers false, without throwing, for malformed inputs', () => {
        expect(vault.verify(new Uint8Array(31), empty, new Uint8Array(64))).toBe(false);
        expect(vault.verify(ED25519_VECTOR.publicKey, empty, new Uint8Array(63))).toBe(false);
        expect(vault.verify(new Uint8Array(32), empty, new Uint8Array(64))).toBe(false);
      });

      it('accepts the RFC 8032 test vector', () => {
        expect(vault.verify(ED25519_VECTOR.publicKey, empty, ED25519_VECTOR.signature)).toBe(true);
        expect(vault.verify(ED25519_VECTOR.publicKey, utf8('x'), ED25519_VECTOR.signature)).toBe(false);
      });
    });

    describe('hash', () => {
      it.each(HASH_VECTORS)('computes %s("abc")', (algorithm, expected) => {
        expect(toHex(vault.hash(algorithm, utf8('abc')))).toBe(expected);
      });

      it('refuses an unknown algorithm', () => {
        expectThrows(() => vault.hash('md5' as HashAlgorithm, empty), 'INVALID_ARGUMENT');
      });
    });

    describe('hkdf', () => {
      it.each(HKDF_VECTORS)('matches RFC 5869 HKDF-SHA-256 $name', ({ ikm, salt, info, okm }) => {
        expect(toHex(vault.hkdf('sha256', salt, ikm, info, okm.length / 2))).toBe(okm);
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
                expect(toHex(vault.hkdf(algorithm, salt, ikm, info, length))).toBe(toHex(expected));
              },
            ),
            { numRuns: 40 },
          );
        },
      );

      it('refuses lengths beyond 255 * HashLen and non-integers', () => {
        expect(vault.hkdf('sha256', empty, empty, empty, 255 * 32)).toHaveLength(255 * 32);
        expectThrows(() => vault.hkdf('sha256', empty, empty, empty, 255 * 32 + 1), 'INVALID_ARGUMENT');
        expectThrows(() => vault.hkdf('blake2s', empty, empty, empty, -1), 'INVALID_ARGUMENT');
        expectThrows(() => vault.hkdf('sha512', empty, empty, empty, 1.5), 'INVALID_ARGUMENT');
      });
    });

    describe('aead', () => {
      it('matches the RFC 8439 ChaCha20-Poly1305 vector', () => {
        const { key, nonce, ad, plaintext, sealed } = CHACHA_VECTOR;
        expect(toHex(vault.aeadEncrypt('chacha20poly1305', key, nonce, plaintext, ad))).toBe(sealed);
        expect(vault.aeadDecrypt('chacha20poly1305', key, nonce, hex(sealed), ad)).toEqual(plaintext);
      });

      it('matches the GCM specification AES-256 test case 14', () => {
        const zero = (n: number): Uint8Array => new Uint8Array(n);
        expect(toHex(vault.aeadEncrypt('aes256gcm', zero(32), zero(12), zero(16), empty))).toBe(
          GCM_VECTOR.sealed,
        );
        expect(vault.aeadDecrypt('aes256gcm', zero(32), zero(12), hex(GCM_VECTOR.sealed), empty)).toEqual(
          zero(16),
        );
      });

      describe.each(['chacha20poly1305', 'aes256gcm'] as const)('%s', (algorithm) => {
        const key = range(1, 32);
        const nonce = range(100, 111);
        const ad = utf8('header');
        const plaintext = utf8('a secret message');

        it('round-trips any plaintext and associated data, appending a 16-byte tag', () => {
          fc.assert(
            fc.property(
              fc.uint8Array({ maxLength: 300 }),
              fc.uint8Array({ maxLength: 40 }),
              (data, extra) => {
                const sealed = vault.aeadEncrypt(algorithm, key, nonce, data, extra);
                expect(sealed).toHaveLength(data.length + 16);
                expect(toHex(vault.aeadDecrypt(algorithm, key, nonce, sealed, extra))).toBe(toHex(data));
              },
            ),
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
          expect(toHex(vault.aeadEncrypt(algorithm, key, nonce, plaintext, ad))).toBe(
            expected.toString('hex'),
          );
        });

        it('fails with an opaque DECRYPT_FAILED on any tampering', () => {
          const sealed = vault.aeadEncrypt(algorithm, key, nonce, plaintext, ad);
          const attempts: [string, () => unknown][] = [
            ['ciphertext byte', () => vault.aeadDecrypt(algorithm, key, nonce, flipped(sealed, 0), ad)],
            [
              'tag byte',
              () => vault.aeadDecrypt(algorithm, key, nonce, flipped(sealed, sealed.length - 1), ad),
            ],
            ['associated data', () => vault.aeadDecrypt(algorithm, key, nonce, sealed, flipped(ad, 0))],
            ['nonce', () => vault.aeadDecrypt(algorithm, key, flipped(nonce, 11), sealed, ad)],
            ['key', () => vault.aeadDecrypt(algorithm, flipped(key, 5), nonce, sealed, ad)],
            ['truncated', () => vault.aeadDecrypt(algorithm, key, nonce, sealed.subarray(1), ad)],
            [
              'shorter than a tag',
              () => vault.aeadDecrypt(algorithm, key, nonce, sealed.subarray(0, 15), ad),
            ],
            ['empty', () => vault.aeadDecrypt(algorithm, key, nonce, empty, ad)],
          ];
          const messages = attempts.map(([, attempt]) => {
            const error = expectThrows(attempt, 'DECRYPT_FAILED');
            expect(error.cause).toBeUndefined();
            return error.message;
          });
          expect(new Set(messages).size).toBe(1);
        });

        it('refuses a key or nonce of the wrong length (INVALID_ARGUMENT)', () => {
          expectThrows(
            () => vault.aeadEncrypt(algorithm, key.subarray(1), nonce, plaintext, ad),
            'INVALID_ARGUMENT',
          );
          expectThrows(
            () => vault.aeadEncrypt(algorithm, key, range(0, 23), plaintext, ad),
            'INVALID_ARGUMENT',
          );
          expectThrows(
            () => vault.aeadDecrypt(algorithm, key, nonce.subarray(1), plaintext, ad),
            'INVALID_ARGUMENT',
          );
        });
      });
    });
  });
}
