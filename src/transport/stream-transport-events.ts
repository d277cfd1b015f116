import type { Address } from '../core/address';
import type { TransportError } from './errors';

/** A connection opened (both preambles exchanged). */
export interface ConnectionOpenedEvent {
  /** The local address of the connection's worker. */
  readonly address: Address;
  /** The peer, as the transport names it (`host:port`). */
  readonly remote: string;
  readonly outgoing: boolean;
}

/** A connection closed, and why. */
export interface ConnectionClosedEvent extends ConnectionOpenedEvent {
  readonly reason: TransportError;
}

/** A listener refused a connection at the door (a limit was reached). */
export interface ConnectionRefusedEvent {
  /** The listener's bound address. */
  readonly listener: string;
  readonly remote: string;
  readonly reason: TransportError;
}

/** Events a stream transport emits. */
export interface StreamTransportEvents {
  connectionOpened: [ConnectionOpenedEvent];
  connectionClosed: [ConnectionClosedEvent];
  connectionRefused: [ConnectionRefusedEvent];
}
