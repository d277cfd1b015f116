import type { DropReason } from './dead-letters';

/** One portal end's numbers. */
export interface PortalMetrics {
  readonly side: 'inlet' | 'outlet';
  readonly sessionsActive: number;
  readonly sessionsOpened: number;
  readonly sessionsClosed: number;
  /** Stream bytes read from local TCP connections and sent through the portal. */
  readonly bytesSent: number;
  /** Stream bytes received through the portal and written to local TCP connections. */
  readonly bytesReceived: number;
}

/** Bytes a transport moved, for transports that count them. */
export interface TransportBytes {
  readonly in: number;
  readonly out: number;
}

/** One transport's numbers. */
export interface TransportMetrics {
  /** Connections open now. */
  readonly connectionsOpen: number;
  /** Connections opened, by direction. */
  readonly connectionsOpened: { readonly outgoing: number; readonly incoming: number };
  /** Connections closed, by the `TransportError` code they closed with. */
  readonly connectionsClosed: Readonly<Record<string, number>>;
  /** Bytes received and sent, when the transport was tracked with a byte source. */
  readonly bytes: TransportBytes | undefined;
}

/** A histogram: cumulative counts per upper bound (seconds), like Prometheus'. */
export interface Histogram {
  readonly buckets: readonly number[];
  /** `counts[i]`: observations at most `buckets[i]`; observations above the last are only in `count`. */
  readonly counts: readonly number[];
  readonly count: number;
  readonly sum: number;
}

/** What `node.metrics()` returns. Counters only grow; gauges say "now". */
export interface MetricsSnapshot {
  readonly messages: {
    /** Messages handed to the node's router (sent by workers, contexts, transports and channels). */
    readonly routed: number;
    /** Of those, the ones the node did not drop itself (routed minus the node's own dead letters). */
    readonly delivered: number;
  };
  readonly deadLetters: {
    readonly total: number;
    readonly byReason: Readonly<Record<DropReason, number>>;
    /** Delivery failure notices that could not be delivered (not counted as dead letters). */
    readonly noticesDropped: number;
  };
  /** Refusals of access: access rules (dead letters `access-denied`) and flow controls. */
  readonly accessDenied: { readonly accessRules: number; readonly flowControls: number };
  readonly failureNotices: { readonly sent: number; readonly rateLimited: number };
  /** Workers running now. */
  readonly workers: number;
  readonly channels: {
    /** Channel ends open now. */
    readonly open: number;
    readonly opened: { readonly initiator: number; readonly responder: number };
    /** Channel ends closed, by `CloseReason`. */
    readonly closed: Readonly<Record<string, number>>;
    /** Handshakes that ended without a channel, by `SecureChannelErrorCode`. */
    readonly failed: Readonly<Record<string, number>>;
    /** Handshake latency of channels this node opened (initiator side), seconds. */
    readonly handshakeSeconds: Histogram;
  };
  /** Per tracked transport, by the name it was tracked under (`tcp`). */
  readonly transports: Readonly<Record<string, TransportMetrics>>;
  /** Per tracked portal end (inlet or outlet), by the name it was tracked under. */
  readonly portals: Readonly<Record<string, PortalMetrics>>;
  readonly forwarders: {
    /** Forwarders live now at the forwarding services of this node (a hub). */
    readonly hosted: number;
    /** This node's relays registered at a hub now. */
    readonly registered: number;
    /** Times a relay of this node lost its hub and registered again. */
    readonly reconnects: number;
    /** Relays that gave up. */
    readonly failed: number;
  };
}
