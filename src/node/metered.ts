/**
 * The components a node's metrics count, each described by the few members it is read through: the node
 * layer imports none of them (transports, channels, portals and forwarders live in higher layers).
 */

/** A transport, as metrics see it: connection events and, optionally, byte counts. */
export interface MeteredTransport {
  on(event: 'connectionOpened', listener: (event: { readonly outgoing: boolean }) => void): unknown;
  on(
    event: 'connectionClosed',
    listener: (event: { readonly reason: { readonly code: string } }) => void,
  ): unknown;
  connections(): readonly unknown[];
}

/** A secure channel end, as metrics see it. */
export interface MeteredChannel {
  readonly isInitiator: boolean;
  closed(): Promise<string>;
}

/** A secure channel listener, as metrics see it. */
export interface MeteredListener {
  on(event: 'channelOpened', listener: (channel: MeteredChannel) => void): unknown;
  on(event: 'handshakeFailed', listener: (error: { readonly code: string }) => void): unknown;
}

/** A hub's forwarding service, as metrics see it. */
export interface MeteredForwardingService {
  stats(): { readonly live: number };
}

/** A remote forwarder (a relay registered at a hub), as metrics see it. */
export interface MeteredRemoteForwarder {
  on(event: 'registered', listener: (forwardingAddress: string) => void): unknown;
  on(event: 'lost', listener: (reason: Error) => void): unknown;
  on(event: 'failed', listener: (reason: Error) => void): unknown;
}

/** A TCP portal end (inlet or outlet), as metrics see it. */
export interface MeteredPortal {
  readonly side: 'inlet' | 'outlet';
  readonly stats: {
    readonly sessionsOpened: number;
    readonly sessionsActive: number;
    readonly sessionsClosed: number;
    readonly bytesSent: number;
    readonly bytesReceived: number;
  };
}
