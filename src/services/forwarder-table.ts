import { randomBytes } from 'node:crypto';
import { Address } from '../core/address';
import { Route } from '../core/route';
import type { Logger } from '../node/logger';
import type { ForwarderState, SlotRecord } from './forwarder-state';
import { NAMED_PREFIX, RANDOM_PREFIX } from './forwarding-messages';
import type { ForwarderInfo } from './forwarding-options';

/** A slot of the table: a live forwarder, or an address or name reserved for an absent holder. */
export interface Entry {
  readonly address: Address;
  readonly name: string | undefined;
  /** The identifier the name is bound to. */
  owner: string | undefined;
  /** Hex SHA-256 of the current token: the token itself is never kept. */
  tokenHash: string;
  /** Where the holder last registered from (see `sourceOf`). */
  source: string;
  /** The registration's return route (the last one while reserved). */
  route: Route;
  /** Whether its forwarder worker runs. */
  live: boolean;
  /** When its forwarder went away; 0 while live. */
  releasedAt: number;
}

/** A forwarder going live at, or away from, its address. */
export interface ForwarderChange {
  readonly kind: 'up' | 'down';
  readonly forwarder: ForwarderInfo;
}

/**
 * The hub's live forwarders as other parts of a hub see them (a federation of hubs, say, that tells its
 * peers which names live here): find one by address, list them, and follow them going up and down.
 */
export interface ForwarderRegistry {
  /** The live forwarder at `address` (`fwd.n.bob`, `fwd.r.<hex>`), if any. */
  find(address: string): ForwarderInfo | undefined;
  /** The live forwarders. */
  list(): ForwarderInfo[];
  /** Calls `listener` on every change from now on; returns the function that stops it. */
  watch(listener: (change: ForwarderChange) => void): () => void;
}

/** How long an absent holder keeps its slot. */
export interface ReservationTimes {
  readonly reattachGraceMs: number;
  readonly boundNameTtlMs: number;
}

function infoOf({ address, name, owner, route }: Entry): ForwarderInfo {
  return { address, name, owner, route };
}

/**
 * The forwarding service's table: slots by address, indexed by the first hop of their route (the client's
 * connection), by source and by owner, with the counts its limits need. It changes nothing outside itself:
 * starting and stopping forwarder workers, and writing the table to disk, are the service's.
 */
export class ForwarderTable implements ForwarderRegistry {
  readonly slots = new Map<string, Entry>();
  private readonly byFirstHop = new Map<string, Set<Entry>>();
  readonly bySource = new Map<string, number>();
  readonly byOwner = new Map<string, number>();
  private readonly listeners = new Set<(change: ForwarderChange) => void>();
  liveCount = 0;
  unboundCount = 0;
  boundCount = 0;
  /** Reservations that expired. */
  expired = 0;

  constructor(
    private readonly times: ReservationTimes,
    private readonly logger: Logger,
    /** Called after a reservation expired and was freed (the table changed). */
    private readonly onExpired: () => void = () => undefined,
  ) {}

  // --- the registry ------------------------------------------------------------------------------------

  find(address: string): ForwarderInfo | undefined {
    const entry = this.slots.get(address);
    return entry?.live === true ? infoOf(entry) : undefined;
  }

  list(): ForwarderInfo[] {
    return [...this.slots.values()].filter((entry) => entry.live).map(infoOf);
  }

  watch(listener: (change: ForwarderChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // --- reading -----------------------------------------------------------------------------------------

  /** The slot at `address`, unless its reservation has expired (then it is freed). */
  lookup(address: string, now = Date.now()): Entry | undefined {
    const entry = this.slots.get(address);
    if (entry === undefined || entry.live) return entry;
    if (now - entry.releasedAt < this.lifetime(entry)) return entry;
    this.expire(entry);
    return undefined;
  }

  /**
   * Whether the forwarder at `address` is live and forwards along `route`: what a client's ping asks. After
   * the client reconnected by another route it does not.
   */
  forwardsAlong(address: string, route: Route): boolean {
    const entry = this.slots.get(address);
    return entry !== undefined && entry.live && entry.route.equals(route);
  }

  /** Live forwarders whose route starts at `firstHop` (one client connection). */
  sharing(firstHop: Address): ReadonlySet<Entry> | undefined {
    return this.byFirstHop.get(firstHop.key);
  }

  /** Live forwarders bound to an identity (a pass over the live ones). */
  liveBound(): number {
    let n = 0;
    for (const set of this.byFirstHop.values()) for (const entry of set) if (entry.owner !== undefined) n++;
    return n;
  }

  // --- changes -----------------------------------------------------------------------------------------

  /** A new reserved slot (not live yet): at `fwd.n.<name>`, at `restored`, or at a new random address. */
  add(
    name: string | undefined,
    owner: string | undefined,
    tokenHash: string,
    source: string,
    route: Route,
    restored?: string,
  ): Entry {
    let value: string;
    if (name !== undefined) value = NAMED_PREFIX + name;
    else if (restored !== undefined) value = restored;
    else
      do value = RANDOM_PREFIX + randomBytes(16).toString('hex');
      while (this.slots.has(value)); // never issued twice while it is held or reserved
    const entry: Entry = {
      address: Address.local(value),
      name,
      owner: undefined,
      tokenHash,
      source,
      route,
      live: false,
      releasedAt: Date.now(),
    };
    this.slots.set(value, entry);
    this.unboundCount++;
    this.bySource.set(source, (this.bySource.get(source) ?? 0) + 1);
    if (owner !== undefined) this.setOwner(entry, owner);
    return entry;
  }

  setOwner(entry: Entry, owner: string): void {
    if (entry.owner === undefined) this.unboundCount--;
    else decrement(this.byOwner, entry.owner);
    entry.owner = owner;
    this.boundCount++;
    this.byOwner.set(owner, (this.byOwner.get(owner) ?? 0) + 1);
  }

  setSource(entry: Entry, source: string): void {
    if (entry.source === source) return;
    decrement(this.bySource, entry.source);
    entry.source = source;
    this.bySource.set(source, (this.bySource.get(source) ?? 0) + 1);
  }

  /** Marks `entry` live along `route` (its worker is being started). */
  goLive(entry: Entry, route: Route): void {
    entry.route = route;
    entry.live = true;
    entry.releasedAt = 0;
    this.liveCount++;
    this.index(entry);
    this.announce('up', entry);
  }

  /** Moves a live `entry` to a new route (its client reconnected while the old connection lingers). */
  reroute(entry: Entry, route: Route): void {
    this.unindex(entry);
    entry.route = route;
    this.index(entry);
  }

  /** Its forwarder is gone (the caller stops the worker, or it has stopped): the slot is now reserved. */
  release(entry: Entry, why: string): void {
    if (!entry.live || this.slots.get(entry.address.value) !== entry) return;
    entry.live = false;
    entry.releasedAt = Date.now();
    this.liveCount--;
    this.unindex(entry);
    this.announce('down', entry);
    this.logger.info({ forwarder: entry.address.value }, `forwarder removed, its slot reserved: ${why}`);
  }

  /** Frees the slot (its forwarder, if live, is the caller's to stop). */
  remove(entry: Entry, why: string): void {
    if (this.slots.get(entry.address.value) !== entry) return;
    if (entry.live) {
      entry.live = false;
      this.liveCount--;
      this.unindex(entry);
      this.announce('down', entry);
    }
    this.slots.delete(entry.address.value);
    decrement(this.bySource, entry.source);
    if (entry.owner === undefined) this.unboundCount--;
    else {
      this.boundCount--;
      decrement(this.byOwner, entry.owner);
    }
    this.logger.info({ forwarder: entry.address.value }, `forwarder slot freed: ${why}`);
  }

  /** Frees expired reservations. */
  sweep(now = Date.now()): void {
    let changed = false;
    for (const entry of [...this.slots.values()]) {
      if (!entry.live && now - entry.releasedAt >= this.lifetime(entry)) {
        this.free(entry);
        changed = true;
      }
    }
    if (changed) this.onExpired();
  }

  // --- persistence -------------------------------------------------------------------------------------

  /** Reloads a saved table: every entry starts reserved; grace periods count from now. */
  restore(records: readonly SlotRecord[]): void {
    const now = Date.now();
    for (const record of records) {
      const named = record.address.startsWith(NAMED_PREFIX);
      const entry = this.add(
        named ? record.address.slice(NAMED_PREFIX.length) : undefined,
        record.owner,
        record.tokenHash,
        record.source,
        Route.EMPTY,
        named ? undefined : record.address,
      );
      // A bound name's time counts from when its forwarder went away; everything else from the restart.
      entry.releasedAt = record.owner !== undefined && record.releasedAt > 0 ? record.releasedAt : now;
    }
  }

  /** The table as the state file keeps it. */
  snapshot(hub: string): ForwarderState {
    return {
      hub,
      slots: [...this.slots.values()].map((entry) => ({
        address: entry.address.value,
        owner: entry.owner,
        tokenHash: entry.tokenHash,
        source: entry.source,
        releasedAt: entry.releasedAt,
      })),
    };
  }

  // --- inside ------------------------------------------------------------------------------------------

  private lifetime(entry: Entry): number {
    return entry.owner === undefined ? this.times.reattachGraceMs : this.times.boundNameTtlMs;
  }

  private expire(entry: Entry): void {
    this.free(entry);
    this.onExpired();
  }

  private free(entry: Entry): void {
    this.expired++;
    this.remove(entry, 'its reservation expired');
  }

  private index(entry: Entry): void {
    const key = entry.route.next!.key;
    let set = this.byFirstHop.get(key);
    if (set === undefined) this.byFirstHop.set(key, (set = new Set()));
    set.add(entry);
  }

  private unindex(entry: Entry): void {
    const key = entry.route.next!.key;
    const set = this.byFirstHop.get(key);
    set?.delete(entry);
    if (set?.size === 0) this.byFirstHop.delete(key);
  }

  private announce(kind: ForwarderChange['kind'], entry: Entry): void {
    if (this.listeners.size === 0) return;
    const change: ForwarderChange = { kind, forwarder: infoOf(entry) };
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        this.logger.error({ err }, 'a forwarder registry listener threw');
      }
    }
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) - 1;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}
