/**
 * The behaviour every Vault implementation must show, as one suite each implementation's test file runs
 * (after libp2p's interface-compliance-tests).
 */
import fc from 'fast-check';
import type { HashAlgorithm, Vault } from '../../src/vault/vault';
import { expectRejects, expectThrows, flipped, hex, toHex } from './helpers';

/** A vault under test, and how to dispose of it. */
export interface VaultHarness {
  readonly vault: Vault;
  teardown(): Promise<void>;
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const empty = new Uint8Array(0);

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

// RFC 8032 section 7.1, test 1 (empty message).
const ED25519_VECTOR = {
  publicKey: hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'),
  signature: hex(
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  ),
};

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
  });
}
