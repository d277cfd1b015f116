import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { NoiseError } from './errors';

/** DHLEN for Curve25519: public keys and DH outputs are 32 bytes. */
export const DH_LEN = 32;

/** An X25519 key pair: the private half as an OpenSSL key object, the public half as the 32 bytes sent. */
export interface X25519KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: Uint8Array;
}

// DER prefix of a PKCS #8 X25519 private key (RFC 8410): what precedes the 32 raw bytes.
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

/**
 * The Noise "25519" DH functions (spec section 12.1) over node:crypto (OpenSSL) with key objects. Measured
 * against libsodium's WASM X25519 in the same run (`npx ts-node bench/noise-primitives.ts`, µs per call on
 * the CPU clock, Node 20, 2 vCPU): DH with both keys as key objects 69 vs `crypto_scalarmult` 192; a key
 * pair from `generateKeyPairSync` ~105 vs `crypto_scalarmult_base` 89 (plus libsodium's random bytes, which
 * cost as much again through its JavaScript callback); importing a received public key as a JWK ~44 (DER:
 * ~200, so never that). A handshake imports each received key once and uses it for every DH it appears in.
 * Private keys are raw 32-byte scalars where they are bytes (clamped as RFC 7748 says, by OpenSSL).
 */
export const x25519 = {
  /** GENERATE_KEYPAIR(). */
  generateKeyPair(): X25519KeyPair {
    const { privateKey, publicKey } = generateKeyPairSync('x25519');
    return { privateKey, publicKey: exportPublic(publicKey) };
  },

  /**
   * The key pair of raw private key bytes (test vectors, `staticKeyFromPrivateKey`): a slow import (~1 ms,
   * PKCS #8), so never on a per-handshake path but for injected test keys.
   */
  keyPairFromPrivateKey(privateKey: Uint8Array): X25519KeyPair {
    checkLength(privateKey, 'private');
    const der = Buffer.alloc(PKCS8_PREFIX.length + DH_LEN);
    der.set(PKCS8_PREFIX);
    der.set(privateKey, PKCS8_PREFIX.length);
    const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    der.fill(0);
    return { privateKey: key, publicKey: exportPublic(createPublicKey(key)) };
  },

  /** A received public key as a key object, for `dh`. Any 32 bytes are a valid X25519 public key. */
  importPublicKey(publicKey: Uint8Array): KeyObject {
    checkLength(publicKey, 'public');
    const x = Buffer.from(publicKey.buffer, publicKey.byteOffset, DH_LEN).toString('base64url');
    return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
  },

  /**
   * DH(private, public). OpenSSL refuses an all-zero result (a low-order public key); the spec allows that,
   * and we surface it as `INVALID_KEY` rather than mixing a known value into the chaining key.
   */
  dh(privateKey: KeyObject, publicKey: KeyObject): Uint8Array {
    let out: Buffer;
    try {
      out = diffieHellman({ privateKey, publicKey });
    } catch (error) {
      throw new NoiseError('INVALID_KEY', 'X25519 with this public key gives the all-zero output', {
        cause: error,
      });
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  },
};

function exportPublic(publicKey: KeyObject): Uint8Array {
  // JWK is the cheapest raw export node:crypto has (~3 µs; DER goes through OpenSSL's encoders).
  return Uint8Array.from(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'));
}

function checkLength(key: Uint8Array, kind: 'private' | 'public'): void {
  if (key.length !== DH_LEN) {
    throw new NoiseError('INVALID_KEY', `an X25519 ${kind} key is ${DH_LEN} bytes, got ${key.length}`);
  }
}
