import { EventEmitter } from 'eventemitter3';
import type { DropReason } from './dead-letters';
import type {
  MeteredChannel,
  MeteredForwardingService,
  MeteredListener,
  MeteredPortal,
  MeteredRemoteForwarder,
  MeteredTransport,
} from './metered';
import type { MetricsSnapshot, PortalMetrics, TransportBytes, TransportMetrics } from './metrics-snapshot';
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
