import { EventEmitter } from 'eventemitter3';
import type { DropReason } from './dead-letters';
import type { NodeRuntime } from './node-runtime';

/**
 * A node's numbers for operators and embedders: `node.metrics()` returns a snapshot, and the `sealroute`
 * command serves the same snapshot to Prometheus. The node's own counters (messages, dead letters, access
 * refusals, failure notices) are read when a snapshot is taken; what lives in higher layers (transports,
 * channels, portals, forwarders) is counted from their events once they are handed to `nodeMetrics(node).track…`.
 * The node layer imports none of them: each is described here by the few members it is read through.
 */

/** Every `DropReason`, in a fixed order (a reason added to the union without being listed here fails to compile). */
export const DROP_REASONS = [
  'no-route',
  'worker-stopped',
  'node-stopped',
  'access-denied',
  'wrong-body-type',
  'undeliverable',
] as const satisfies readonly DropReason[];
type Unlisted = Exclude<DropReason, (typeof DROP_REASONS)[number]>;
const everyReasonListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyReasonListed;

/** Upper bounds (seconds) of the handshake latency histogram's buckets. */
export const HANDSHAKE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

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

/** Events of `NodeMetrics`, for exporters that keep histograms of their own. */
export interface NodeMetricsEvents {
  /** A channel this node opened completed its handshake after `seconds`. */
  handshake: [seconds: number];
}

interface TransportEntry {
  readonly transport: MeteredTransport;
  readonly opened: { outgoing: number; incoming: number };
  readonly closed: Map<string, number>;
  readonly bytes: (() => TransportBytes) | undefined;
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Node-internal counters the snapshot reads (`NodeRuntime` has them; typed here to keep the import a type). */
interface CountedNode {
  readonly messagesRouted: number;
}

/**
 * The metrics of one node (get it with `nodeMetrics(node)`). Tracking is opt-in per component and costs one
 * event listener each; nothing is counted on the message path beyond the node's own integer counters.
 */
export class NodeMetrics extends EventEmitter<NodeMetricsEvents> {
  private readonly transports = new Map<string, TransportEntry>();
  private readonly channelsSeen = new WeakSet<MeteredChannel>();
  private readonly opened = { initiator: 0, responder: 0 };
  private openNow = 0;
  private readonly closedByReason = new Map<string, number>();
  private readonly failedByCode = new Map<string, number>();
  private readonly histogramCounts: number[] = HANDSHAKE_BUCKETS.map(() => 0);
  private handshakeCount = 0;
  private handshakeSum = 0;
  private readonly services = new Set<MeteredForwardingService>();
  private readonly portals = new Map<string, MeteredPortal>();
  private readonly relaysRegistered = new Set<MeteredRemoteForwarder>();
  private reconnects = 0;
  private relaysFailed = 0;

  constructor(private readonly node: NodeRuntime) {
    super();
  }

  /**
   * Counts a transport's connections under `name`; `bytes`, if the transport can tell, reads its byte
   * totals at snapshot time. Tracking the same name twice replaces the first.
   */
  trackTransport(name: string, transport: MeteredTransport, bytes?: () => TransportBytes): void {
    const entry: TransportEntry = {
      transport,
      opened: { outgoing: 0, incoming: 0 },
      closed: new Map(),
      bytes,
    };
    this.transports.set(name, entry);
    transport.on('connectionOpened', (event) => {
      if (event.outgoing) entry.opened.outgoing++;
      else entry.opened.incoming++;
    });
    transport.on('connectionClosed', (event) => increment(entry.closed, event.reason.code));
  }

  /** Counts the channels a listener accepts, how they close, and its failed handshakes by code. */
  trackListener(listener: MeteredListener): void {
    listener.on('channelOpened', (channel) => this.trackChannel(channel));
    listener.on('handshakeFailed', (error) => increment(this.failedByCode, error.code));
  }

  /** Counts an open channel end (once, however often it is handed in) and how it closes. */
  trackChannel(channel: MeteredChannel): void {
    if (this.channelsSeen.has(channel)) return;
    this.channelsSeen.add(channel);
    if (channel.isInitiator) this.opened.initiator++;
    else this.opened.responder++;
    this.openNow++;
    void channel.closed().then((reason) => {
      this.openNow--;
      increment(this.closedByReason, reason);
    });
  }

  /**
   * Times a channel this node is opening (`createSecureChannel(...)`): its handshake latency on success,
   * its error's code on failure. Resolves or rejects as `opening` does.
   */
  async timeHandshake<T extends MeteredChannel>(opening: Promise<T>): Promise<T> {
    const started = performance.now();
    let channel: T;
    try {
      channel = await opening;
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      increment(this.failedByCode, typeof code === 'string' ? code : 'UNKNOWN');
      throw error;
    }
    const seconds = (performance.now() - started) / 1000;
    this.handshakeCount++;
    this.handshakeSum += seconds;
    HANDSHAKE_BUCKETS.forEach((bound, i) => {
      if (seconds <= bound) this.histogramCounts[i]!++;
    });
    this.trackChannel(channel);
    this.emit('handshake', seconds);
    return channel;
  }

  /** Reads a portal end's sessions and bytes at snapshot time, under `name` (its address or listen address). */
  trackPortal(name: string, portal: MeteredPortal): void {
    this.portals.set(name, portal);
  }

  /** Stops reading a portal end that was closed on purpose. */
  forgetPortal(name: string): void {
    this.portals.delete(name);
  }

  /** Reads a hub's live forwarders at snapshot time. */
  trackForwardingService(service: MeteredForwardingService): void {
    this.services.add(service);
  }

  /** Counts a relay's registrations, losses (each re-registration after one is a reconnect) and failure. */
  trackRemoteForwarder(forwarder: MeteredRemoteForwarder, registered = true): void {
    if (registered) this.relaysRegistered.add(forwarder);
    let lost = false;
    forwarder.on('registered', () => {
      this.relaysRegistered.add(forwarder);
      if (lost) this.reconnects++;
      lost = false;
    });
    forwarder.on('lost', () => {
      lost = true;
      this.relaysRegistered.delete(forwarder);
    });
    forwarder.on('failed', () => {
      this.relaysFailed++;
      this.relaysRegistered.delete(forwarder);
    });
  }

  /** Stops counting a relay that was stopped on purpose. */
  forgetRemoteForwarder(forwarder: MeteredRemoteForwarder): void {
    this.relaysRegistered.delete(forwarder);
  }

  /** The numbers now. */
  snapshot(): MetricsSnapshot {
    const node = this.node;
    const dead = node.deadLetters;
    const byReason = Object.fromEntries(
      DROP_REASONS.map((reason) => [reason, dead.countOf(reason)]),
    ) as Record<DropReason, number>;
    // Dead letters the node recorded itself, for messages that went through its router: the rest of the
    // routed messages reached a mailbox, an inbox or a transport.
    const droppedByNode =
      byReason['no-route'] +
      byReason['worker-stopped'] +
      byReason['node-stopped'] +
      byReason['access-denied'] +
      byReason['wrong-body-type'];
    const routed = (node as unknown as CountedNode).messagesRouted;
    const transports: Record<string, TransportMetrics> = {};
    for (const [name, entry] of this.transports) {
      transports[name] = {
        connectionsOpen: entry.transport.connections().length,
        connectionsOpened: { ...entry.opened },
        connectionsClosed: Object.fromEntries(entry.closed),
        bytes: entry.bytes?.(),
      };
    }
    const portals: Record<string, PortalMetrics> = {};
    for (const [name, portal] of this.portals) {
      const stats = portal.stats;
      portals[name] = {
        side: portal.side,
        sessionsActive: stats.sessionsActive,
        sessionsOpened: stats.sessionsOpened,
        sessionsClosed: stats.sessionsClosed,
        bytesSent: stats.bytesSent,
        bytesReceived: stats.bytesReceived,
      };
    }
    let hosted = 0;
    for (const service of this.services) hosted += service.stats().live;
    return {
      messages: { routed, delivered: Math.max(0, routed - droppedByNode) },
      deadLetters: { total: dead.count, byReason, noticesDropped: dead.noticesDropped },
      accessDenied: { accessRules: byReason['access-denied'], flowControls: node.flowControls.stats.refused },
      failureNotices: { ...node.failureNotices.stats },
      workers: node.workers().length,
      channels: {
        open: this.openNow,
        opened: { ...this.opened },
        closed: Object.fromEntries(this.closedByReason),
        failed: Object.fromEntries(this.failedByCode),
        handshakeSeconds: {
          buckets: HANDSHAKE_BUCKETS,
          counts: this.histogramCounts.slice(),
          count: this.handshakeCount,
          sum: this.handshakeSum,
        },
      },
      transports,
      portals,
      forwarders: {
        hosted,
        registered: this.relaysRegistered.size,
        reconnects: this.reconnects,
        failed: this.relaysFailed,
      },
    };
  }
}

const byNode = new WeakMap<NodeRuntime, NodeMetrics>();

/** The metrics of `node` (made on first use, one per node). */
export function nodeMetrics(node: NodeRuntime): NodeMetrics {
  let metrics = byNode.get(node);
  if (metrics === undefined) {
    metrics = new NodeMetrics(node);
    byNode.set(node, metrics);
  }
  return metrics;
}
