import { EnvelopeKind, encodeControl, type Envelope } from './envelope';
import type { FederationShared } from './federation-shared';

/** Another hub, as its heartbeats (and frames) say. */
export interface Peer {
  readonly instance: string;
  readonly epoch: number;
  lastSeen: number;
}

/** Where a name on another hub lives, from its verified record. */
export interface RemoteRoute {
  readonly hub: string;
  readonly instance: string;
  readonly epoch: number;
  readonly revision: number;
}

/**
 * The leases of the hubs of a federation, without trusting key-value TTL events (NATS before 2.11 does not
 * announce expiries): this hub renews its own with a heartbeat on `<prefix>.hb`; another hub's lease lasts
 * `leaseMs` after anything was heard from it, and a new epoch in its heartbeats means it restarted.
 */
export class Leases {
  private readonly peers = new Map<string, Peer>();

  constructor(
    private readonly shared: FederationShared,
    /** A hub's lease ended or it restarted: what was sent to it unconfirmed may be lost. */
    private readonly onGone: (hub: string, why: string) => void,
  ) {}

  /** The subject of the heartbeats. */
  get subject(): string {
    return `${this.shared.settings.prefix}.hb`;
  }

  /** The hub's lease, if it is live. */
  live(hub: string): Peer | undefined {
    const peer = this.peers.get(hub);
    return peer !== undefined && Date.now() - peer.lastSeen <= this.shared.settings.leaseMs
      ? peer
      : undefined;
  }

  /** Whether `route` leads to the live epoch of its hub. */
  alive(route: RemoteRoute): boolean {
    const peer = this.live(route.hub);
    return peer !== undefined && peer.instance === route.instance && peer.epoch === route.epoch;
  }

  /** Hubs with a live lease. */
  count(): number {
    let live = 0;
    for (const hub of this.peers.keys()) if (this.live(hub) !== undefined) live++;
    return live;
  }

  /** Whatever a hub sends renews its lease as a heartbeat does (a frame may come before the first one). */
  heard(hb: Envelope): void {
    const { logger } = this.shared;
    const known = this.peers.get(hb.hub);
    if (known !== undefined && known.instance === hb.instance && known.epoch === hb.epoch) {
      known.lastSeen = Date.now();
      return;
    }
    if (known !== undefined && hb.epoch < known.epoch) return; // a late heartbeat of an earlier life
    if (known !== undefined) {
      this.onGone(hb.hub, 'it restarted (a new epoch)');
      logger.warn({ peer: hb.hub }, 'a hub of the federation restarted');
    } else {
      logger.info({ peer: hb.hub, epoch: hb.epoch }, 'a hub of the federation is live');
    }
    this.peers.set(hb.hub, { instance: hb.instance, epoch: hb.epoch, lastSeen: Date.now() });
  }

  /** Renews this hub's lease (once it has an instance id). */
  beat(): void {
    const { hub, instance, epoch, stopped, bus, warnings } = this.shared;
    if (instance === undefined || stopped) return;
    const hb = encodeControl(EnvelopeKind.HEARTBEAT, hub, instance, epoch, 0, 0);
    try {
      bus.publish(this.subject, hb);
    } catch (err) {
      warnings.warn({ err }, 'could not publish a heartbeat');
    }
  }

  /** Renews this hub's lease and ends those of hubs not heard from within `leaseMs`. */
  tick(): void {
    this.beat();
    const now = Date.now();
    for (const [hub, peer] of this.peers) {
      if (now - peer.lastSeen <= this.shared.settings.leaseMs) continue;
      this.peers.delete(hub);
      this.onGone(hub, `its lease ended (nothing for ${now - peer.lastSeen} ms)`);
      this.shared.logger.warn(
        { peer: hub, epoch: peer.epoch },
        'a hub of the federation is gone: its lease ended',
      );
    }
  }
}
