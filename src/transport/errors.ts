import { SealrouteError } from '../core/errors';

/** The codes of `TransportError`: what went wrong with a transport or one of its connections. */
export const TRANSPORT_ERROR_CODES = [
  /** A connection could not be established (refused, unreachable, timed out, or the peer's preamble was wrong). */
  'CONNECT_FAILED',
  /** The peer closed or reset the connection. */
  'CONNECTION_CLOSED',
  /** The owner closed the connection, or the transport or node stopped. */
  'CLOSED_LOCALLY',
  /** A frame's declared length exceeds the configured maximum. */
  'FRAME_TOO_LARGE',
  /** The peer does not speak this protocol or this version of it. */
  'PROTOCOL_MISMATCH',
  /** A frame held bytes that do not decode as a transport message. */
  'MALFORMED',
  /** A connection limit (per listener or per remote host) was reached. */
  'LIMIT_REACHED',
  /** The peer was idle, too slow to send a frame or preamble, or did not read for too long. */
  'TIMEOUT',
  /** Nothing came from the peer for `peerTimeoutMs`, not even a PONG: a silent partition or a vanished peer. */
  'PEER_UNRESPONSIVE',
  /** A listener could not bind. */
  'LISTEN_FAILED',
  /** A `host:port` that does not parse. */
  'INVALID_ADDRESS',
  /** The transport has stopped. */
  'TRANSPORT_STOPPED',
  /** A transport or connection option out of its range (the message names it and the range). */
  'INVALID_OPTION',
] as const;

/** What went wrong with a transport or one of its connections. Told apart by `code`, never by message. */
export type TransportErrorCode = (typeof TRANSPORT_ERROR_CODES)[number];

/** An error of a transport; also the reason a connection closed (`connection.closed()`). */
export class TransportError extends SealrouteError<TransportErrorCode> {
  override readonly name = 'TransportError';

  constructor(code: TransportErrorCode, message: string, options?: { cause?: unknown }) {
    super('transport', code, message, options);
  }
}
