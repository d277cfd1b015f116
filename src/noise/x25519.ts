import { sodium } from '../vault/sodium';
import { NoiseError } from './errors';

/** DHLEN for Curve25519: public keys and DH outputs are 32 bytes. */
export const DH_LEN = 32;

/**
 * The Noise "25519" DH functions (spec section 12.1) over libsodium's X25519. Private keys are raw
 * 32-byte scalars (clamped by libsodium, as RFC 7748 says). Needs `sodiumReady()` to have resolved.
 */
export const x25519 = {
  /** GENERATE_KEYPAIR's private half: 32 random bytes. */
  generatePrivateKey(): Uint8Array {
    return sodium().randombytes_buf(DH_LEN);
  },

  /** The public key of a private key: scalarmult(private, basepoint). */
  publicKey(privateKey: Uint8Array): Uint8Array {
    checkLength(privateKey, 'private');
    return sodium().crypto_scalarmult_base(privateKey);
  },

  /**
   * DH(private, public). libsodium refuses an all-zero result (a low-order public key); the spec allows
   * that, and we surface it as `INVALID_KEY` rather than mixing a known value into the chaining key.
   */
  dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
    checkLength(privateKey, 'private');
    checkLength(publicKey, 'public');
    try {
      return sodium().crypto_scalarmult(privateKey, publicKey);
    } catch (error) {
      throw new NoiseError('INVALID_KEY', 'X25519 with this public key gives the all-zero output', {
        cause: error,
      });
    }
  },
};

function checkLength(key: Uint8Array, kind: 'private' | 'public'): void {
  if (key.length !== DH_LEN) {
    throw new NoiseError('INVALID_KEY', `an X25519 ${kind} key is ${DH_LEN} bytes, got ${key.length}`);
  }
}
