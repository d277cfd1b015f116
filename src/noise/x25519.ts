import type { CryptoBackend, X25519Key, X25519KeyPair } from '../crypto';
import { NoiseError } from './errors';

/** DHLEN for Curve25519: public keys and DH outputs are 32 bytes. */
export const DH_LEN = 32;

/**
 * The Noise "25519" DH functions (spec section 12.1) over a crypto backend's X25519, with the Noise layer's
 * checks and errors: keys of the wrong length and a DH with the all-zero output (a low-order public key,
 * which the spec allows but we refuse rather than mixing a known value into the chaining key) are
 * `INVALID_KEY`.
 */
export const x25519 = {
  /** GENERATE_KEYPAIR(). */
  generateKeyPair(crypto: CryptoBackend): X25519KeyPair {
    return crypto.x25519.generateKeyPair();
  },

  /** The key pair of raw private key bytes (test vectors, `staticKeyFromPrivateKey`). */
  keyPairFromPrivateKey(crypto: CryptoBackend, privateKey: Uint8Array): X25519KeyPair {
    checkLength(privateKey, 'private');
    return crypto.x25519.keyPairFromPrivateKey(privateKey);
  },

  /** A received public key in the backend's form, for `dh`. */
  importPublicKey(crypto: CryptoBackend, publicKey: Uint8Array): X25519Key {
    checkLength(publicKey, 'public');
    return crypto.x25519.importPublicKey(publicKey);
  },

  /** DH(private, public). */
  dh(crypto: CryptoBackend, privateKey: X25519Key, publicKey: X25519Key): Uint8Array {
    const out = crypto.x25519.dh(privateKey, publicKey);
    if (out === undefined) {
      throw new NoiseError('INVALID_KEY', 'X25519 with this public key gives the all-zero output');
    }
    return out;
  },
};

function checkLength(key: Uint8Array, kind: 'private' | 'public'): void {
  if (key.length !== DH_LEN) {
    throw new NoiseError('INVALID_KEY', `an X25519 ${kind} key is ${DH_LEN} bytes, got ${key.length}`);
  }
}
