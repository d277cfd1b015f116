import { randomBytes } from 'node:crypto';
import { nodeCrypto, sodiumReady } from '../../src/crypto';
import { sodiumCrypto } from '../../src/crypto/sodium-backend';

beforeAll(async () => {
  await sodiumReady();
});

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

// The browser build's backend must give the very bytes Node's gives: a browser and a Node peer share channels.
describe('sodiumCrypto (the browser backend) against nodeCrypto', () => {
  it('derives the same X25519 public keys and DH outputs, and refuses a low-order key', () => {
    const a = random(32);
    const b = random(32);
    const [na, nb] = [nodeCrypto.x25519.keyPairFromPrivateKey(a), nodeCrypto.x25519.keyPairFromPrivateKey(b)];
    const [sa, sb] = [
      sodiumCrypto.x25519.keyPairFromPrivateKey(a),
      sodiumCrypto.x25519.keyPairFromPrivateKey(b),
    ];
    expect(hex(sa.publicKey)).toBe(hex(na.publicKey));
    const viaNode = nodeCrypto.x25519.dh(na.privateKey, nodeCrypto.x25519.importPublicKey(nb.publicKey))!;
    const viaSodium = sodiumCrypto.x25519.dh(
      sa.privateKey,
      sodiumCrypto.x25519.importPublicKey(sb.publicKey),
    )!;
    expect(hex(viaSodium)).toBe(hex(viaNode));
    const fresh = sodiumCrypto.x25519.generateKeyPair();
    expect(
      sodiumCrypto.x25519.dh(fresh.privateKey, sodiumCrypto.x25519.importPublicKey(new Uint8Array(32))),
    ).toBeUndefined();
  });

  it.each(['sha256', 'sha512', 'blake2b'] as const)(
    'hashes, MACs and derives as node:crypto does with %s',
    (algorithm) => {
      const [n, s] = [nodeCrypto.hasher(algorithm), sodiumCrypto.hasher(algorithm)];
      const parts = [random(3), random(200), random(0)];
      for (const keyLength of [16, 64, 129, 300]) {
        const key = random(keyLength);
        expect(hex(s.hmac(key, ...parts))).toBe(hex(n.hmac(key, ...parts)));
      }
      expect(hex(s.hash(...parts))).toBe(hex(n.hash(...parts)));
      const [ck, ikm] = [random(n.length), random(32)];
      expect(s.hkdf2(ck, ikm).map(hex)).toEqual(n.hkdf2(ck, ikm).map(hex));
    },
  );

  it.each([0, 64, 4096, 65519])(
    'seals ChaCha20-Poly1305 as node does at %i bytes, and refuses a flipped bit',
    (size) => {
      const [key, nonce, ad, plaintext] = [random(32), random(12), random(10), random(size)];
      const sealed = sodiumCrypto.aead('chacha20poly1305').seal(key, nonce, ad, plaintext);
      expect(hex(sealed)).toBe(hex(nodeCrypto.aead('chacha20poly1305').seal(key, nonce, ad, plaintext)));
      sealed[sealed.length - 1]! ^= 1;
      expect(sodiumCrypto.aead('chacha20poly1305').open(key, nonce, ad, sealed)).toBeUndefined();
    },
  );

  it('says plainly which algorithms it lacks, when they are used', () => {
    const [key, nonce, empty] = [random(32), random(12), new Uint8Array(0)];
    expect(() => sodiumCrypto.aead('aes256gcm').seal(key, nonce, empty, empty)).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_ALGORITHM' }),
    );
    expect(() => sodiumCrypto.hasher('blake2s').hash(empty)).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_ALGORITHM' }),
    );
  });
});
