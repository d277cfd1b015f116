import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';

/** X25519 public keys, private keys and DH outputs are 32 bytes. */
export const X25519_LENGTH = 32;

/** A key as a backend holds it: opaque to callers, who only hand it back to the same backend. */
export type X25519Key = object;

/** An X25519 key pair: the private half as the backend holds it, the public half as the 32 bytes sent. */
export interface X25519KeyPair {
  readonly privateKey: X25519Key;
  readonly publicKey: Uint8Array;
}

/**
 * X25519 (RFC 7748) as a backend offers it. Callers check lengths (32 bytes everywhere); `dh` gives
 * `undefined` for the all-zero output of a low-order public key, so each layer throws its own error.
 */
export interface X25519 {
  /** A fresh random key pair. */
  generateKeyPair(): X25519KeyPair;
  /** The key pair of raw private key bytes (clamped as RFC 7748 says). May be slow: not for hot paths. */
  keyPairFromPrivateKey(privateKey: Uint8Array): X25519KeyPair;
  /** A received public key in the backend's form, to use in any number of `dh`s. */
  importPublicKey(publicKey: Uint8Array): X25519Key;
  /** DH(private, public), or `undefined` when it is all zeros. */
  dh(privateKey: X25519Key, publicKey: X25519Key): Uint8Array | undefined;
}

// DER prefix of a PKCS #8 X25519 private key (RFC 8410): what precedes the 32 raw bytes.
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

/**
 * X25519 over node:crypto (OpenSSL) with key objects. Measured against libsodium's WASM X25519 in the same
 * run (`npx ts-node bench/noise-primitives.ts`, µs per call on the CPU clock, Node 20, 2 vCPU): DH with both
 * keys as key objects 69 vs `crypto_scalarmult` 192; a key pair from `generateKeyPairSync` ~105 vs
 * `crypto_scalarmult_base` 89 (plus libsodium's random bytes, which cost as much again through its
 * JavaScript callback); importing a received public key as a JWK ~44 (DER: ~200, so never that). Import
 * each received key once and use it for every DH it appears in.
 */
export const nodeX25519: X25519 = {
  generateKeyPair() {
    // The public half comes encoded by the key generation itself, never by `publicKey.export()` afterwards:
    // node 20's JWK export allocates while it holds the key's lock, and a garbage collection at that moment
    // may finalise the finished generation job, whose destructor takes the same lock: the process hung
    // for good (seen mid-benchmark; test/crypto/x25519-deadlock.test.ts forces it). Encoded here, the job
    // is still alive while the lock is held. Same cost (~28 us a pair, both ways).
    const { privateKey, publicKey } = generateWithJwkPublic();
    return { privateKey, publicKey: fromBase64url(publicKey.x) };
  },

  keyPairFromPrivateKey(privateKey) {
    // A PKCS #8 import (~1 ms): fine for test vectors and long-term keys, never per handshake.
    const der = Buffer.alloc(PKCS8_PREFIX.length + X25519_LENGTH);
    der.set(PKCS8_PREFIX);
    der.set(privateKey, PKCS8_PREFIX.length);
    const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    der.fill(0);
    return { privateKey: key, publicKey: exportPublic(createPublicKey(key)) };
  },

  importPublicKey(publicKey) {
    const x = Buffer.from(publicKey.buffer, publicKey.byteOffset, X25519_LENGTH).toString('base64url');
    return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
  },

  dh(privateKey, publicKey) {
    let out: Buffer;
    try {
      // OpenSSL refuses the all-zero output of a low-order public key.
      out = diffieHellman({ privateKey: privateKey as KeyObject, publicKey: publicKey as KeyObject });
    } catch {
      return undefined;
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  },
};

function exportPublic(publicKey: KeyObject): Uint8Array {
  // JWK is the cheapest raw export node:crypto has (~3 µs; DER goes through OpenSSL's encoders). Only for
  // keys no generation job made (see `generateKeyPair`).
  return fromBase64url(publicKey.export({ format: 'jwk' }).x);
}

/**
 * `generateKeyPairSync('x25519')` with the public key as a JWK and the private one a key object, as node
 * gives it; @types/node has no signature for that mix of encodings.
 */
function generateWithJwkPublic(): { privateKey: KeyObject; publicKey: JsonWebKey } {
  const generate = generateKeyPairSync as unknown as (
    type: 'x25519',
    options: { publicKeyEncoding: { format: 'jwk' } },
  ) => { privateKey: KeyObject; publicKey: JsonWebKey };
  return generate('x25519', { publicKeyEncoding: { format: 'jwk' } });
}

function fromBase64url(x: string | undefined): Uint8Array {
  return Uint8Array.from(Buffer.from(x!, 'base64url'));
}
