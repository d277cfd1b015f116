import type { DeliveryFailureCode } from '../core/delivery-failure';
import { SealrouteError } from '../core/errors';

/**
 * Why a peer refused a handshake, as its refusal notice says. Deliberately coarse: a peer learns that we
 * did not trust it or that its handshake did not verify, never which check failed or why.
 */
export type RefusalReason = 'untrusted' | 'handshake-failed' | 'busy' | 'timeout' | 'unsupported-protocol';

/**
 * What went wrong with a secure channel; callers branch on `code`, never on message text.
 * - `UNTRUSTED`: this side refused the peer: its trust policy said no, its identity proof did not verify
 *   against the static key it used, it pinned another static key, or it stayed anonymous (NK) where the
 *   policy needs an identity.
 * - `REFUSED`: the peer refused this side; `reason` carries its (coarse) refusal notice.
 * - `HANDSHAKE_FAILED`: a handshake message did not decrypt or did not parse. Opaque on purpose; the cause is
 *   kept locally as `cause` and the peer only learns `handshake-failed`.
 * - `UNSUPPORTED_PROTOCOL`: a Noise protocol name this side does not speak or does not accept.
 * - `TIMEOUT`: the handshake did not complete in time.
 * - `TOO_MANY_HANDSHAKES`: a listener refused a handshake because it already had its maximum pending.
 * - `CLOSED`: the channel (or its listener, or its node) closed.
 * - `TOO_LARGE`: a message over the channel's maximum message size; it is refused whole, never truncated.
 * - `DECRYPT_FAILED`, `REPLAYED`, `TOO_OLD`, `MALFORMED`: a received frame was dropped (see `frameDropped`).
 * - `INVALID_OPTIONS`: options that cannot work (NK without a remote static key, a bad limit...).
 * - `PEER_UNRESPONSIVE`: the channel closed because nothing authenticated came from the peer for
 *   `peerTimeout` (a silent partition, a vanished peer).
 * - A `DeliveryFailureCode` (`CONNECTION_REFUSED`, `NO_ROUTE`, `UNREACHABLE`, `INVALID_ADDRESS`...): a
 *   handshake message was dropped on its way, and the node that dropped it said why; `cause` holds the local
 *   error when it was this node.
 */
export const SECURE_CHANNEL_ERROR_CODES = [
  'UNTRUSTED',
  'REFUSED',
  'HANDSHAKE_FAILED',
  'UNSUPPORTED_PROTOCOL',
  'TIMEOUT',
  'TOO_MANY_HANDSHAKES',
  'CLOSED',
  'TOO_LARGE',
  'DECRYPT_FAILED',
  'REPLAYED',
  'TOO_OLD',
  'MALFORMED',
  'INVALID_OPTIONS',
] as const;

/** Every code a `SecureChannelError` carries (see above). */
export type SecureChannelErrorCode = (typeof SECURE_CHANNEL_ERROR_CODES)[number] | DeliveryFailureCode;

/** Errors of secure channels and their listeners; `code` says which (see `SecureChannelErrorCode`). */
export class SecureChannelError extends SealrouteError<SecureChannelErrorCode> {
  override readonly name = 'SecureChannelError';
  /** For `REFUSED`: what the peer's refusal notice said. */
  readonly reason: RefusalReason | undefined;

  constructor(
    code: SecureChannelErrorCode,
    message: string,
    options?: { cause?: unknown; reason?: RefusalReason },
  ) {
    super('channel', code, message, options);
    this.reason = options?.reason;
  }
}
