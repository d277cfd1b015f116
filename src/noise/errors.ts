import { SealrouteError } from '../core/errors';

/**
 * What went wrong in the Noise layer. Callers branch on these, never on message text:
 * - `DECRYPT_FAILED`: an AEAD tag did not verify. Deliberately opaque (wrong key, tampering, wrong nonce and
 *   wrong associated data all look the same), so nothing about the cause can leak to a peer.
 * - `OUT_OF_TURN`: a handshake step the state does not expect now (writing when the peer must write, a
 *   second call while one is in flight, split before completion or twice).
 * - `HANDSHAKE_COMPLETE`: writing or reading a handshake message after the last one.
 * - `BAD_MESSAGE`: a received handshake message of the wrong length for its tokens.
 * - `NONCE_EXHAUSTED`: the nonce reached 2^64-1, which the spec reserves.
 * - `INVALID_NONCE`: an explicit nonce that is not an integer in 0..2^64-1.
 * - `MESSAGE_TOO_LARGE`: a message that would exceed the Noise limit of 65535 bytes.
 * - `UNSUPPORTED_PROTOCOL`: a protocol name this implementation does not speak.
 * - `MISSING_KEY`: the pattern needs a key (local static, pre-known remote static) that was not given.
 * - `INVALID_KEY`: a key of the wrong length, a DH that yields the all-zero output (low-order point), or a
 *   pre-known remote static for a pattern that learns it during the handshake.
 * - `INVALID_BUFFER`: an output buffer without room for the ciphertext and tag at the offset given.
 */
export const NOISE_ERROR_CODES = [
  'DECRYPT_FAILED',
  'OUT_OF_TURN',
  'HANDSHAKE_COMPLETE',
  'BAD_MESSAGE',
  'NONCE_EXHAUSTED',
  'INVALID_NONCE',
  'MESSAGE_TOO_LARGE',
  'UNSUPPORTED_PROTOCOL',
  'MISSING_KEY',
  'INVALID_KEY',
  'INVALID_BUFFER',
] as const;

/** Every code a `NoiseError` carries (see above). */
export type NoiseErrorCode = (typeof NOISE_ERROR_CODES)[number];

/** Errors of the Noise handshake and transport ciphers; `code` says which (see `NoiseErrorCode`). */
export class NoiseError extends SealrouteError<NoiseErrorCode> {
  override readonly name = 'NoiseError';

  constructor(code: NoiseErrorCode, message: string, options?: { cause?: unknown }) {
    super('noise', code, message, options);
  }
}
