import { Address } from '../core/address';
import { decodeBody } from '../core/codec';
import type { DeliveryFailureCode } from '../core/delivery-failure';
import {
  LocalMessage,
  MessageOrigin,
  ORIGIN_INFO,
  TRANSPORT_INFO,
  originOf,
  type LocalInfo,
  type Routed,
  type TransportOrigin,
} from '../core/message';
import { integerOption } from '../core/options';
import { decodeTransportMessage, encodeFrame } from '../core/wire';
import type { Context } from '../node/context';
import type { Logger } from '../node/logger';
import type { Worker } from '../node/worker';
import type { RegistrationAdmission, RegistrationRefusal } from '../services/forwarding-service';
import { isRefusal } from '../services/forwarding-options';
import { NAMED_PREFIX, type NameClaim } from '../services/forwarding-messages';
import { ThrottledLog } from '../transport/throttled-log';
import { InMemoryVault } from '../vault/in-memory-vault';
import type { Vault } from '../vault/vault';
import {
  EnvelopeKind,
  decodeEnvelope,
  encodeControl,
  headerSize,
  writeHeader,
  type Envelope,
} from './envelope';
import { FederationError } from './errors';
import { HUB_NAME, MAX_RECORD_BYTES, encodeRecord, verifyRecord, type NameRecord } from './name-record';
import {
  NameConflict,
  NameStoreUnavailable,
  connectNats,
  type FederationBus,
  type NameEntry,
  type NameStore,
  type NatsConnectOptions,
} from './nats-bus';

/** How a hub joins a federation. Every field but `nats` and `hub` has a default (`FEDERATION_DEFAULTS`). */
export interface FederationOptions {
  /** Where NATS is (servers, credentials, TLS), or a ready `FederationBus` (tests put faults in one). */
  readonly nats: NatsConnectOptions | FederationBus;
  /**
   * This hub's name in the federation: its NATS subject is `<prefix>.hub.<hub>`, which NATS permissions
   * let only this hub subscribe to (docs/federation.md). 1..32 of `a-z 0-9 -`.
   */
  readonly hub: string;
  /** The first token of every subject of the federation. */
  readonly prefix?: string;
  /** The JetStream key-value bucket of names. */
  readonly bucket?: string;
  /** Copies of the bucket in the NATS cluster (3 for a 3-node cluster), used when the bucket is created. */
  readonly replicas?: number;
  /** The bucket's byte limit, used when the bucket is created. */
  readonly bucketMaxBytes?: number;
  /**
   * How long a claim of a name keeps trying while the bucket does not answer (NATS reconnecting, or its
   * stream electing a leader after a server died) before the registration is refused as `LIMIT_REACHED`.
   */
  readonly claimTimeoutMs?: number;
  /** How often this hub renews its lease (a heartbeat on `<prefix>.hb`). */
  readonly heartbeatMs?: number;
  /** A hub not heard from for this long is dead: routes to its epoch are dropped. */
  readonly leaseMs?: number;
  /** How often a hub acknowledges the frames it received from each other hub. */
  readonly ackIntervalMs?: number;
  /**
   * Bytes published toward one hub and not yet confirmed by a flush (a round trip to the NATS server); a
   * frame that would exceed it waits for the flush, and if that does not come within `flushTimeoutMs` the
   * frame is dropped and counted.
   */
  readonly maxQueueBytes?: number;
  /** How long a frame waits for room toward NATS before it counts as lost. */
  readonly flushTimeoutMs?: number;
  /** Bytes received from NATS and waiting for full local mailboxes; beyond it, frames are dropped, counted. */
  readonly maxInboundBytes?: number;
  /** Names on other hubs this hub keeps a route (and a small worker) for. */
  readonly maxRemoteNames?: number;
  /** The vault that checks the owners' signatures on records (default: a new in-memory vault). */
  readonly vault?: Vault;
}

/** The defaults of `FederationOptions`. */
export const FEDERATION_DEFAULTS = Object.freeze({
  prefix: 'sealroute',
  bucket: 'sealroute-names',
  replicas: 1,
  bucketMaxBytes: 64 * 1024 * 1024,
  claimTimeoutMs: 8_000,
  heartbeatMs: 250,
  leaseMs: 1_500,
  ackIntervalMs: 50,
  maxQueueBytes: 4 * 1024 * 1024,
  flushTimeoutMs: 2_000,
  maxInboundBytes: 8 * 1024 * 1024,
  maxRemoteNames: 100_000,
});

/** The options in force (defaults filled in). */
type Settings = {
  readonly [K in keyof typeof FEDERATION_DEFAULTS]: (typeof FEDERATION_DEFAULTS)[K] extends number
    ? number
    : string;
};

/** Frames the federation counted as lost or refused, by why (never silent: each is counted and logged). */
export interface FederationLosses {
  /** Gaps in the sequence numbers of frames received from another hub: NATS lost them on the way. */
  inTransit: number;
  /** Frames sent to a hub whose lease ended or which restarted before it acknowledged them. */
  unconfirmed: number;
  /** Frames meant for a previous life (epoch) of this hub. */
  staleEpoch: number;
  /** Frames dropped because the queue toward NATS stayed full for `flushTimeoutMs`, or publishing failed. */
  queueFull: number;
  /** Frames from NATS dropped because local mailboxes held `maxInboundBytes` already. */
  inboundFull: number;
  /** Frames for a name whose hub is not alive (no live lease), or for a name no longer known. */
  unroutable: number;
  /** Frames too large for NATS's payload limit. */
  tooLarge: number;
  /** Frames from another hub for a name that lives on a third one (never relayed twice). */
  transit: number;
}

/** What the federation has done and counted (`stats()`). */
export interface FederationStats {
  /** Other hubs with a live lease. */
  readonly peers: number;
  /** Names on other hubs this hub routes to. */
  readonly remoteNames: number;
  /** Names whose record says this hub. */
  readonly localNames: number;
  /** Frames published to other hubs. */
  readonly sent: number;
  /** Frames received from other hubs. */
  readonly received: number;
  readonly lost: Readonly<FederationLosses>;
  /** Sum of `lost`. */
  readonly lostTotal: number;
  /** Records of the bucket that did not verify (malformed, wrong key, bad signature): ignored. */
  readonly forgedRecords: number;
  /** Envelopes from NATS that did not decode, or that went where a hub's frames may not go. */
  readonly malformed: number;
  readonly refused: number;
  /** Slow-consumer notices and disconnects reported by the NATS client. */
  readonly slowConsumers: number;
  readonly disconnects: number;
}

/** What the federation puts in `localInfo[TRANSPORT_INFO]` of every message from another hub. */
export interface FederationTransportInfo extends TransportOrigin {
  /** `nats:<hub>`. */
  readonly remote: string;
  /** The hub it came from. */
  readonly hub: string;
}

interface Peer {
  readonly instance: string;
  readonly epoch: number;
  lastSeen: number;
}

/** Where a name on another hub lives, from its verified record. */
interface RemoteRoute {
  readonly hub: string;
  readonly instance: string;
  readonly epoch: number;
  readonly revision: number;
}

/** Frames received from one hub's epoch. */
interface Inbound {
  readonly epoch: number;
  highest: number;
  ackDue: boolean;
}

/** A verified claim of a bound name by its owner, for this hub's instance. */
export interface FederatedClaim extends NameClaim {
  readonly name: string;
  /** The identifier of `key`. */
  readonly owner: string;
  /** The hub instance id the owner signed for. */
  readonly instance: string;
}

/** Calls of the bucket in flight at once per hub (see `kv`). */
const KV_CONCURRENCY = 64;

const NO_TRANSIT = 'a hub relays frames from another hub only to its own forwarders';

/**
 * A hub's membership in a federation of hubs that act as one, on NATS (see docs/federation.md). It is
 * the forwarding service's `ForwarderDirectory`: a bound name is claimed in a JetStream key-value bucket
 * (create, or compare-and-swap on the revision for the owner taking it over), so that of hubs racing for a
 * name exactly one wins. Every hub watches the bucket and keeps, for each name on another hub, a small
 * worker at `fwd.n.<name>` that sends what it receives to that hub's one subject, unchanged; the hub
 * there hands it to its forwarder. Each hub renews a lease (an epoch) with heartbeats; routes to a hub
 * whose lease ended, and records written in an earlier epoch, are not used, and frames that NATS may have
 * lost on the way are counted (`stats().lost`), never dropped silently.
 */
export class Federation {
  /** This hub's lease epoch: new at every start. */
  readonly epoch: number;
  private readonly settings: Settings;
  private instance: string | undefined;
  private readonly peers = new Map<string, Peer>();
  private readonly routes = new Map<string, RemoteRoute>();
  /** Names whose record is this hub's: the revision written and the record, to put back if overwritten. */
  private readonly own = new Map<string, { revision: number; bytes: Uint8Array }>();
  private readonly proxies = new Map<string, Promise<void>>();
  private readonly links = new Map<string, HubLink>();
  private readonly inbound = new Map<string, Inbound>();
  private readonly resolving = new Map<string, number>();
  private records: Promise<void> = Promise.resolve();
  private inboundBytes = 0;
  private kvInFlight = 0;
  private readonly kvWaiting: (() => void)[] = [];
  private readonly counters = {
    sent: 0,
    received: 0,
    forgedRecords: 0,
    malformed: 0,
    refused: 0,
    slowConsumers: 0,
    disconnects: 0,
    lost: {
      inTransit: 0,
      unconfirmed: 0,
      staleEpoch: 0,
      queueFull: 0,
      inboundFull: 0,
      unroutable: 0,
      tooLarge: 0,
      transit: 0,
    } satisfies FederationLosses,
  };
  private ctx!: Context;
  private logger!: Logger;
  private warnings!: ThrottledLog;
  private timers: NodeJS.Timeout[] = [];
  private subscriptions: { unsubscribe(): void }[] = [];
  private watcher: { stop(): void } | undefined;
  private stopped = false;

  private constructor(
    readonly hub: string,
    private readonly bus: FederationBus,
    private readonly ownsBus: boolean,
    private readonly store: NameStore,
    private readonly vault: Vault,
    settings: Settings,
  ) {
    this.settings = settings;
    // Milliseconds since 1970 at start: a later start of the same hub has a larger epoch.
    this.epoch = Date.now();
  }

  /**
   * Connects to NATS, opens the bucket of names and starts the federation's workers on the node of `ctx`.
   * Pass the result as `directory` to `ForwardingService.start` (or use `startFederatedHub`). Rejects with
   * `FederationError` (`INVALID_OPTIONS`, `NATS_UNAVAILABLE`).
   */
  static async start(ctx: Context, options: FederationOptions): Promise<Federation> {
    const settings = validate(options);
    const ownsBus = !isBus(options.nats);
    const bus = isBus(options.nats) ? options.nats : await connectNats(options.nats);
    try {
      const store = await bus.names(settings.bucket, {
        replicas: settings.replicas,
        maxBytes: settings.bucketMaxBytes,
        maxValueSize: MAX_RECORD_BYTES,
      });
      const vault = options.vault ?? (await InMemoryVault.create());
      const federation = new Federation(options.hub, bus, ownsBus, store, vault, settings);
      await ctx.startWorker(`federation.${options.hub}`, federation.control);
      await federation.join();
      return federation;
    } catch (err) {
      if (ownsBus) await bus.close().catch(() => undefined);
      throw err;
    }
  }

  /** What the federation has done and counted so far. */
  stats(): FederationStats {
    const lost = { ...this.counters.lost };
    const now = Date.now();
    let peers = 0;
    for (const peer of this.peers.values()) if (now - peer.lastSeen <= this.settings.leaseMs) peers++;
    return {
      peers,
      remoteNames: this.routes.size,
      localNames: this.own.size,
      sent: this.counters.sent,
      received: this.counters.received,
      lost,
      lostTotal: Object.values(lost).reduce((a, b) => a + b, 0),
      forgedRecords: this.counters.forgedRecords,
      malformed: this.counters.malformed,
      refused: this.counters.refused,
      slowConsumers: this.counters.slowConsumers,
      disconnects: this.counters.disconnects,
    };
  }

  /** The hub a name's record points to, as this hub sees it now (this hub's own name for its own). */
  whereIs(name: string): string | undefined {
    if (this.own.has(name)) return this.hub;
    return this.routes.get(name)?.hub;
  }

  /** Stops heartbeats, subscriptions and workers, and closes NATS if the federation opened it. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const sub of this.subscriptions) sub.unsubscribe();
    this.watcher?.stop();
    await this.records.catch(() => undefined);
    const workers = [...this.proxies.keys()].map((name) => Address.local(NAMED_PREFIX + name));
    workers.push(...[...this.links.values()].map((link) => link.address));
    await Promise.all(workers.map((a) => this.ctx.stopWorker(a).catch(() => undefined)));
    await this.ctx.stopWorker(this.ctx.address).catch(() => undefined);
    if (this.ownsBus) await this.bus.close().catch(() => undefined);
  }

  // --- the forwarding service's side --------------------------------------------------------------------

  /**
   * The admission hook to give the hub's forwarding service (`ForwardingServiceOptions.admit`): it lets
   * `next` (another hook, if any) decide first, refuses a name that is not bound to an identity, and claims
   * a bound name federation-wide before its forwarder starts here.
   */
  admission(next?: RegistrationAdmission): RegistrationAdmission {
    return async (registration) => {
      const verdict = next === undefined ? undefined : await next(registration);
      if (isRefusal(verdict)) return verdict;
      const { name, owner, request } = registration;
      if (name === undefined) return verdict; // a random address stays on its hub
      if (owner === undefined || request.claim === undefined) {
        return {
          code: 'INVALID_REQUEST',
          reason: 'this hub is federated: a name must be bound to an identity',
        };
      }
      if (this.instance === undefined) {
        return { code: 'LIMIT_REACHED', reason: 'the hub has not joined its federation yet' };
      }
      // Claimed federation-wide, the name keeps the time `next` admitted it for (a credential's expiry).
      return (await this.claim({ ...request.claim, name, owner, instance: this.instance })) ?? verdict;
    };
  }

  /** Called once the hub's forwarding service runs: its instance id is the one its challenges carry. */
  attach(service: { readonly hub: string }): void {
    this.instance = service.hub;
    this.heartbeat();
  }

  /**
   * Claims a bound name for this hub: undefined if granted, else the refusal (`NAME_TAKEN` if it is bound to
   * another identity). `claim` must have been verified (the service's challenge check does it).
   */
  async claim(claim: FederatedClaim): Promise<RegistrationRefusal | undefined> {
    const { name } = claim;
    const record: NameRecord = {
      v: 1,
      name,
      hub: this.hub,
      instance: claim.instance,
      epoch: this.epoch,
      owner: claim.owner,
      key: claim.key,
      challenge: claim.challenge,
      sig: claim.sig,
    };
    const bytes = encodeRecord(record);
    // The first attempt writes blind (a new name: create; one this hub holds: update at its revision), so
    // that the common case costs one round trip; a lost compare-and-swap means someone else wrote: read the
    // record, decide, and try again. While the bucket does not answer (a NATS server died: the client
    // reconnects, the stream elects a leader, which takes seconds), the claim tries again until
    // `claimTimeoutMs`, reading first: a write that timed out may have happened.
    const deadline = Date.now() + this.settings.claimTimeoutMs;
    let pause = 50;
    for (let conflicts = 0, reread = false; conflicts < 4;) {
      let revision: number;
      try {
        const held = this.own.get(name);
        const current = reread
          ? await this.kv(() => this.store.get(name))
          : held === undefined
            ? undefined
            : { key: name, value: held.bytes, revision: held.revision };
        if (current === undefined) {
          revision = await this.kv(() => this.store.create(name, bytes));
        } else {
          const checked = verifyRecord(name, current.value!, this.vault);
          if ('record' in checked && checked.record.owner !== claim.owner) {
            return { code: 'NAME_TAKEN', reason: `the name ${name} is bound to another identity` };
          }
          if ('problem' in checked) this.forged(name, checked.problem);
          // The owner takes its name over (from a hub it left, or a dead one), or a forged record goes.
          revision = await this.kv(() => this.store.update(name, bytes, current.revision));
        }
      } catch (err) {
        reread = true;
        if (err instanceof NameConflict) {
          conflicts++;
          continue;
        }
        if (err instanceof NameStoreUnavailable && Date.now() + pause < deadline && !this.stopped) {
          this.warnings.warn({ err, name }, 'the bucket of names does not answer; the claim tries again');
          await new Promise((resolve) => setTimeout(resolve, pause));
          pause = Math.min(pause * 2, 400);
          continue;
        }
        this.logger.warn({ err, name }, 'the federation could not claim a name');
        return { code: 'LIMIT_REACHED', reason: 'the federation of hubs cannot record names now' };
      }
      const known = this.own.get(name);
      if (known === undefined || known.revision < revision) this.own.set(name, { revision, bytes });
      this.routes.delete(name);
      await this.stopProxy(name);
      return undefined;
    }
    return { code: 'NAME_TAKEN', reason: `the name ${name} is being claimed elsewhere at the same time` };
  }

  /**
   * Runs a call of the bucket once fewer than `KV_CONCURRENCY` are in flight: thousands of requests at once
   * made the NATS client (and server) several times slower than a few dozen at a time.
   */
  private async kv<T>(call: () => Promise<T>): Promise<T> {
    if (this.kvInFlight >= KV_CONCURRENCY) await new Promise<void>((resolve) => this.kvWaiting.push(resolve));
    this.kvInFlight++;
    try {
      return await call();
    } finally {
      this.kvInFlight--;
      this.kvWaiting.shift()?.();
    }
  }

  // --- joining ---------------------------------------------------------------------------------------

  private readonly control: Worker<unknown> = {
    initialize: (ctx: Context) => {
      this.ctx = ctx;
      this.logger = ctx.logger.child({ component: 'federation', hub: this.hub });
      this.warnings = new ThrottledLog(this.logger);
    },
    handleMessage: () => undefined,
  };

  private get subject(): string {
    return subjectOf(this.settings.prefix, this.hub);
  }

  private async join(): Promise<void> {
    this.bus.onEvent((event) => {
      if (event.type === 'slowConsumer') {
        this.counters.slowConsumers++;
        this.warnings.warn({ pending: event.pending }, 'NATS reports this hub as a slow consumer');
      } else if (event.type === 'disconnect') {
        this.counters.disconnects++;
        this.logger.warn({}, 'disconnected from NATS; the client reconnects');
      } else if (event.type === 'reconnect') {
        this.logger.info({}, 'reconnected to NATS');
      }
    });
    this.subscriptions.push(this.bus.subscribe(this.subject, (data) => this.onEnvelope(data)));
    this.subscriptions.push(
      this.bus.subscribe(`${this.settings.prefix}.hb`, (data) => this.onEnvelope(data)),
    );
    this.watcher = await this.store.watch((entry) => {
      this.records = this.records
        .then(() => this.onRecord(entry))
        .catch((err: unknown) => {
          this.logger.error({ err, name: entry.key }, 'could not apply a name record');
        });
    });
    const tick = setInterval(() => this.tick(), this.settings.heartbeatMs);
    const acks = setInterval(() => this.sendAcks(), this.settings.ackIntervalMs);
    tick.unref();
    acks.unref();
    this.timers.push(tick, acks);
  }

  private heartbeat(): void {
    if (this.instance === undefined || this.stopped) return;
    const hb = encodeControl(EnvelopeKind.HEARTBEAT, this.hub, this.instance, this.epoch, 0, 0);
    try {
      this.bus.publish(`${this.settings.prefix}.hb`, hb);
    } catch (err) {
      this.warnings.warn({ err }, 'could not publish a heartbeat');
    }
  }

  /** Renews this hub's lease and ends those of hubs not heard from within `leaseMs`. */
  private tick(): void {
    this.heartbeat();
    const now = Date.now();
    for (const [hub, peer] of this.peers) {
      if (now - peer.lastSeen <= this.settings.leaseMs) continue;
      this.peers.delete(hub);
      this.links.get(hub)?.peerGone(`its lease ended (nothing for ${now - peer.lastSeen} ms)`);
      this.logger.warn({ peer: hub, epoch: peer.epoch }, 'a hub of the federation is gone: its lease ended');
    }
  }

  // --- names -------------------------------------------------------------------------------------------

  private forged(name: string, problem: string): void {
    this.counters.forgedRecords++;
    this.warnings.warn({ name, problem }, 'ignored a name record that does not verify');
  }

  /** Applies a change of the bucket (in order: one at a time). */
  private async onRecord(entry: NameEntry): Promise<void> {
    if (this.stopped) return;
    const { key: name } = entry;
    const own = this.own.get(name);
    if (own !== undefined && entry.revision <= own.revision) return; // our write, or older
    const route = this.routes.get(name);
    if (route !== undefined && entry.revision <= route.revision) return;
    if (entry.value === undefined) {
      this.own.delete(name);
      this.routes.delete(name);
      await this.stopProxy(name);
      return;
    }
    const checked = verifyRecord(name, entry.value, this.vault);
    if ('problem' in checked) {
      this.forged(name, checked.problem);
      if (own !== undefined) {
        // Ours was overwritten by something that does not verify: put ours back.
        try {
          own.revision = await this.store.update(name, own.bytes, entry.revision);
        } catch (err) {
          this.warnings.warn({ err, name }, 'could not restore a name record');
        }
      }
      return;
    }
    const record = checked.record;
    if (record.hub === this.hub) {
      // A record of this hub in an earlier life: stale, until its owner registers here again.
      if (record.instance !== this.instance || record.epoch !== this.epoch) this.routes.delete(name);
      return;
    }
    if (own !== undefined) {
      // Its owner registered at another hub (the record is signed by the owner): its forwarder here goes.
      this.own.delete(name);
      // The service sees its forwarder stop and keeps the name reserved for its owner, should it come back.
      await this.ctx.stopWorker(NAMED_PREFIX + name).catch(() => undefined);
    }
    if (route === undefined && this.routes.size >= this.settings.maxRemoteNames) {
      this.warnings.warn(
        { name },
        `this hub routes to its maximum of ${this.settings.maxRemoteNames} remote names`,
      );
      return;
    }
    this.routes.set(name, {
      hub: record.hub,
      instance: record.instance,
      epoch: record.epoch,
      revision: entry.revision,
    });
    await this.startProxy(name);
  }

  private startProxy(name: string): Promise<void> {
    let started = this.proxies.get(name);
    if (started === undefined) {
      started = this.ctx
        .startWorker(NAMED_PREFIX + name, new NameProxy(this, name), { acceptsTransportMessages: true })
        .then(() => undefined)
        .catch((err: unknown) => {
          this.proxies.delete(name);
          this.warnings.warn({ err, name }, 'could not start the route to a remote name');
        });
      this.proxies.set(name, started);
    }
    return started;
  }

  private async stopProxy(name: string): Promise<void> {
    const started = this.proxies.get(name);
    if (started === undefined) return;
    this.proxies.delete(name);
    await started;
    await this.ctx.stopWorker(NAMED_PREFIX + name).catch(() => undefined);
  }

  /** Reads a name's record again (at most once per lease period per name), for a route that is not live. */
  private resolveAgain(name: string): void {
    const now = Date.now();
    if (now - (this.resolving.get(name) ?? 0) < this.settings.heartbeatMs) return;
    this.resolving.set(name, now);
    if (this.resolving.size > 10_000) this.resolving.clear();
    this.store
      .get(name)
      .then((entry) => {
        if (entry === undefined) return;
        this.records = this.records.then(() => this.onRecord(entry)).catch(() => undefined);
      })
      .catch(() => undefined);
  }

  private alive(route: RemoteRoute): boolean {
    const peer = this.peers.get(route.hub);
    return (
      peer !== undefined &&
      peer.instance === route.instance &&
      peer.epoch === route.epoch &&
      Date.now() - peer.lastSeen <= this.settings.leaseMs
    );
  }

  /** A frame for a name on another hub: on to that hub's link, or counted as lost. */
  relay(ctx: Context, name: string, message: Routed<unknown>): Promise<unknown> | void {
    const info = message.localInfo[TRANSPORT_INFO] as Partial<FederationTransportInfo> | undefined;
    if (info?.hub !== undefined) {
      this.counters.lost.transit++;
      return this.drop(message, `${NO_TRANSIT} (from ${info.hub}, for ${name})`, 'NO_ROUTE');
    }
    const route = this.routes.get(name);
    if (route === undefined || !this.alive(route)) {
      this.counters.lost.unroutable++;
      this.resolveAgain(name);
      const where = route === undefined ? 'no hub' : `hub ${route.hub}, whose lease is not live`;
      return this.drop(message, `the name ${name} is at ${where}`, 'UNREACHABLE');
    }
    const link = this.linkTo(route.hub);
    const origin = originOf(message);
    if (origin !== undefined) ctx.join(origin.last.producer, link.address);
    return ctx
      .forward(message.message.withRoutes(message.onwardRoute.prepend(link.address), message.returnRoute))
      .then(() => undefined);
  }

  private drop(message: Routed<unknown>, detail: string, code: DeliveryFailureCode): void {
    this.warnings.warn({ address: message.address.value, detail }, 'the federation dropped a frame');
    this.ctx.deadLetter('undeliverable', detail, message.message, { code });
  }

  // --- links to other hubs -----------------------------------------------------------------------------

  private linkTo(hub: string): HubLink {
    let link = this.links.get(hub);
    if (link === undefined) {
      link = new HubLink(this, hub);
      this.links.set(hub, link);
      this.ctx.startWorker(link.address, link, { acceptsTransportMessages: true }).catch((err: unknown) => {
        this.links.delete(hub);
        this.logger.error({ err, peer: hub }, 'could not start the link to a hub');
      });
    }
    return link;
  }

  /** @internal What a link needs of its federation. */
  get linkHost(): LinkHost {
    return {
      ctx: this.ctx,
      bus: this.bus,
      settings: this.settings,
      counters: this.counters,
      hub: this.hub,
      instance: this.instance ?? '0'.repeat(32),
      epoch: this.epoch,
      peer: (hub) => {
        const peer = this.peers.get(hub);
        return peer !== undefined && Date.now() - peer.lastSeen <= this.settings.leaseMs ? peer : undefined;
      },
      subjectOf: (hub) => subjectOf(this.settings.prefix, hub),
      drop: (message, detail, code) => this.drop(message, detail, code),
      logger: this.logger,
    };
  }

  // --- from NATS -----------------------------------------------------------------------------------

  private onEnvelope(data: Uint8Array): void {
    if (this.stopped) return;
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(data);
    } catch (err) {
      this.counters.malformed++;
      this.warnings.warn({ err }, 'dropped an envelope from NATS that does not decode');
      return;
    }
    if (envelope.hub === this.hub) return; // our own heartbeat
    // Whatever a hub sends renews its lease as a heartbeat does (a frame may come before the first one).
    this.onHeartbeat(envelope);
    switch (envelope.kind) {
      case EnvelopeKind.HEARTBEAT:
        return;
      case EnvelopeKind.ACK:
        if (envelope.peerEpoch === this.epoch)
          this.links.get(envelope.hub)?.acked(envelope.epoch, envelope.seq);
        return;
      case EnvelopeKind.DATA:
        return this.onData(envelope);
    }
  }

  private onHeartbeat(hb: Envelope): void {
    const known = this.peers.get(hb.hub);
    if (known !== undefined && known.instance === hb.instance && known.epoch === hb.epoch) {
      known.lastSeen = Date.now();
      return;
    }
    if (known !== undefined && hb.epoch < known.epoch) return; // a late heartbeat of an earlier life
    if (known !== undefined) {
      this.links.get(hb.hub)?.peerGone('it restarted (a new epoch)');
      this.logger.warn({ peer: hb.hub }, 'a hub of the federation restarted');
    } else {
      this.logger.info({ peer: hb.hub, epoch: hb.epoch }, 'a hub of the federation is live');
    }
    this.peers.set(hb.hub, { instance: hb.instance, epoch: hb.epoch, lastSeen: Date.now() });
  }

  private onData(envelope: Envelope): void {
    if (envelope.peerEpoch !== this.epoch) {
      this.counters.lost.staleEpoch++;
      this.warnings.warn({ from: envelope.hub }, 'dropped a frame meant for an earlier life of this hub');
      return;
    }
    let inbound = this.inbound.get(envelope.hub);
    if (inbound === undefined || envelope.epoch > inbound.epoch) {
      inbound = { epoch: envelope.epoch, highest: 0, ackDue: false };
      this.inbound.set(envelope.hub, inbound);
    } else if (envelope.epoch < inbound.epoch) {
      this.counters.lost.staleEpoch++;
      return;
    }
    if (envelope.seq <= inbound.highest) {
      // NATS does not duplicate or reorder one publisher's messages on one subject: a replay, dropped.
      this.counters.malformed++;
      return;
    }
    if (envelope.seq > inbound.highest + 1) {
      const gap = envelope.seq - inbound.highest - 1;
      this.counters.lost.inTransit += gap;
      this.warnings.warn({ from: envelope.hub, gap }, 'frames from another hub were lost in NATS');
    }
    inbound.highest = envelope.seq;
    inbound.ackDue = true;
    this.counters.received++;
    const link = this.linkTo(envelope.hub);
    let message: LocalMessage;
    try {
      const decoded = decodeTransportMessage(envelope.frame, envelope.frame.length);
      message = new LocalMessage(
        decoded.onwardRoute,
        decoded.returnRoute.prepend(link.address),
        decodeBody(decoded.payload),
        link.info,
      );
    } catch (err) {
      this.counters.malformed++;
      this.warnings.warn(
        { err, from: envelope.hub },
        'dropped a frame from another hub that does not decode',
      );
      return;
    }
    const next = message.onwardRoute.next;
    // What another hub sends goes to a forwarder here, or back the way a relayed message came.
    if (next === undefined) {
      this.counters.refused++;
      return this.ctx.refuse(message, `a frame from hub ${envelope.hub} with an empty onward route`);
    }
    if (!(next.isLocal && next.value.startsWith(NAMED_PREFIX))) {
      const what = `a frame from hub ${envelope.hub} to ${next.key} (not a forwarder, nor a route it relayed)`;
      if (!this.ctx.admit(message, next, what)) {
        this.counters.refused++;
        return;
      }
    }
    const size = envelope.frame.length;
    if (this.inboundBytes + size > this.settings.maxInboundBytes) {
      this.counters.lost.inboundFull++;
      this.drop(
        message,
        `${this.settings.maxInboundBytes} bytes from other hubs wait for local mailboxes`,
        'UNDELIVERABLE',
      );
      return;
    }
    this.inboundBytes += size;
    this.ctx.forward(message).then(
      () => (this.inboundBytes -= size),
      () => (this.inboundBytes -= size),
    );
  }

  private sendAcks(): void {
    if (this.instance === undefined) return;
    for (const [hub, inbound] of this.inbound) {
      if (!inbound.ackDue) continue;
      inbound.ackDue = false;
      const ack = encodeControl(
        EnvelopeKind.ACK,
        this.hub,
        this.instance,
        this.epoch,
        inbound.epoch,
        inbound.highest,
      );
      try {
        this.bus.publish(subjectOf(this.settings.prefix, hub), ack);
      } catch {
        inbound.ackDue = true;
      }
    }
  }
}

/** The NATS subject of a hub: the only one it subscribes to for frames. */
export function subjectOf(prefix: string, hub: string): string {
  return `${prefix}.hub.${hub}`;
}

function isBus(value: NatsConnectOptions | FederationBus): value is FederationBus {
  return typeof (value as FederationBus).publish === 'function';
}

const SUBJECT_TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
const BUCKET_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function validate(options: FederationOptions): Settings {
  const fail = (message: string): FederationError => new FederationError('INVALID_OPTIONS', message);
  if (typeof options.hub !== 'string' || !HUB_NAME.test(options.hub)) {
    throw fail('FederationOptions.hub must be 1..32 of a-z 0-9 -, starting with a letter or digit');
  }
  if (options.nats === undefined || options.nats === null) throw fail('FederationOptions.nats is required');
  const prefix = options.prefix ?? FEDERATION_DEFAULTS.prefix;
  if (!SUBJECT_TOKEN.test(prefix))
    throw fail('FederationOptions.prefix must be one subject token (A-Z a-z 0-9 _ -)');
  const bucket = options.bucket ?? FEDERATION_DEFAULTS.bucket;
  if (!BUCKET_NAME.test(bucket)) throw fail('FederationOptions.bucket must be 1..64 of A-Z a-z 0-9 _ -');
  const int = (name: keyof typeof FEDERATION_DEFAULTS, min: number, max: number): number =>
    integerOption(
      `FederationOptions.${name}`,
      options[name as keyof FederationOptions],
      FEDERATION_DEFAULTS[name] as number,
      { min, max },
      fail,
    );
  const heartbeatMs = int('heartbeatMs', 10, 60_000);
  const leaseMs = int('leaseMs', 20, 600_000);
  if (leaseMs <= heartbeatMs) throw fail('FederationOptions.leaseMs must be longer than heartbeatMs');
  return {
    prefix,
    bucket,
    replicas: int('replicas', 1, 5),
    bucketMaxBytes: int('bucketMaxBytes', 1024 * 1024, 2 ** 40),
    claimTimeoutMs: int('claimTimeoutMs', 0, 600_000),
    heartbeatMs,
    leaseMs,
    ackIntervalMs: int('ackIntervalMs', 1, 60_000),
    maxQueueBytes: int('maxQueueBytes', 64 * 1024, 2 ** 31),
    flushTimeoutMs: int('flushTimeoutMs', 10, 600_000),
    maxInboundBytes: int('maxInboundBytes', 64 * 1024, 2 ** 31),
    maxRemoteNames: int('maxRemoteNames', 0, 10_000_000),
  };
}

/** What a `HubLink` needs of its federation. */
interface LinkHost {
  readonly ctx: Context;
  readonly bus: FederationBus;
  readonly settings: Settings;
  readonly counters: { sent: number; lost: FederationLosses };
  readonly hub: string;
  readonly instance: string;
  readonly epoch: number;
  peer(hub: string): Peer | undefined;
  subjectOf(hub: string): string;
  drop(message: Routed<unknown>, detail: string, code: DeliveryFailureCode): void;
  readonly logger: Logger;
}

/**
 * The way to one other hub (`fed.l.<hub>`): one per peer hub, never one per forwarder. A message whose
 * onward route starts here is published, without this hop, on that hub's subject; a message from that
 * hub comes into the node with this address prepended to its return route, so replies go back the same
 * way. Like a connection, it takes a message from outside only where a flow control allows it.
 */
class HubLink implements Worker<unknown> {
  readonly address: Address;
  readonly info: LocalInfo;
  /** Frames sent to the peer's current epoch, and the highest it acknowledged. */
  private sent = 0;
  private ackedSeq = 0;
  private peerEpoch = 0;
  /** Bytes published and not yet confirmed by a flush. */
  private unflushed = 0;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly federation: Federation,
    readonly hub: string,
  ) {
    this.address = Address.local(`fed.l.${hub}`);
    const transportInfo: FederationTransportInfo = Object.freeze({
      connection: this.address,
      remote: `nats:${hub}`,
      hub,
      vouch: () => undefined,
      isVouched: true,
    });
    const origin = MessageOrigin.of({ kind: 'transport', producer: this.address, info: transportInfo });
    this.info = Object.freeze({ [TRANSPORT_INFO]: transportInfo, [ORIGIN_INFO]: origin });
  }

  async handleMessage(ctx: Context, message: Routed<unknown>): Promise<void> {
    const host = this.federation.linkHost;
    if (!ctx.admit(message.message, this.address, `the link to hub ${this.hub}`)) return;
    const peer = host.peer(this.hub);
    if (peer === undefined) {
      host.counters.lost.unroutable++;
      return host.drop(message, `hub ${this.hub} has no live lease`, 'CONNECTION_LOST');
    }
    if (peer.epoch !== this.peerEpoch) this.restart(peer.epoch);
    const onward = message.onwardRoute.stepForward();
    if (onward.isEmpty) {
      host.counters.lost.unroutable++;
      return host.drop(message, `nothing follows hub ${this.hub} in the onward route`, 'NO_ROUTE');
    }
    const header = headerSize(host.hub.length);
    let frame: Buffer;
    try {
      frame = encodeFrame(onward, message.returnRoute, message.body, host.bus.maxPayload - header, header);
    } catch (err) {
      host.counters.lost.tooLarge++;
      return host.drop(message, `too large for NATS: ${(err as Error).message}`, 'TOO_LARGE');
    }
    if (
      this.unflushed + frame.length > host.settings.maxQueueBytes &&
      !(await this.room(host, frame.length))
    ) {
      host.counters.lost.queueFull++;
      return host.drop(
        message,
        `the queue toward NATS held ${host.settings.maxQueueBytes} bytes for ${host.settings.flushTimeoutMs} ms`,
        'UNDELIVERABLE',
      );
    }
    writeHeader(frame, EnvelopeKind.DATA, host.hub, host.instance, host.epoch, this.peerEpoch, ++this.sent);
    try {
      host.bus.publish(host.subjectOf(this.hub), frame);
    } catch (err) {
      this.sent--;
      host.counters.lost.queueFull++;
      return host.drop(message, `NATS did not take it: ${(err as Error).message}`, 'CONNECTION_LOST');
    }
    host.counters.sent++;
    this.unflushed += frame.length;
    this.flushing ??= this.flush(host);
  }

  /** The peer acknowledged frames up to `seq` of our current epoch toward it. */
  acked(peerEpoch: number, seq: number): void {
    if (peerEpoch === this.peerEpoch && seq > this.ackedSeq && seq <= this.sent) this.ackedSeq = seq;
  }

  /**
   * The peer's lease ended, or it restarted: what it never acknowledged counts as lost (once: a peer that
   * comes back in the same epoch goes on with the same sequence numbers).
   */
  peerGone(why: string): void {
    const unconfirmed = this.sent - this.ackedSeq;
    this.ackedSeq = this.sent;
    if (unconfirmed === 0) return;
    const host = this.federation.linkHost;
    host.counters.lost.unconfirmed += unconfirmed;
    host.logger.warn({ peer: this.hub, unconfirmed }, `frames to a hub may be lost: ${why}`);
  }

  /** The peer has a new epoch (it restarted): its numbering starts again. */
  private restart(epoch: number): void {
    if (this.peerEpoch !== 0) this.peerGone('it restarted (a new epoch)');
    this.sent = 0;
    this.ackedSeq = 0;
    this.peerEpoch = epoch;
  }

  /** Flushes until everything published so far is confirmed by the server. */
  private async flush(host: LinkHost): Promise<void> {
    try {
      while (this.unflushed > 0) {
        const covered = this.unflushed;
        await host.bus.flush();
        this.unflushed -= covered;
      }
    } catch {
      // Disconnected or closed: the bytes stay counted until a later flush confirms them.
    } finally {
      this.flushing = undefined;
    }
  }

  /** Waits (up to `flushTimeoutMs`) for room for `size` more bytes toward NATS; false if none came. */
  private async room(host: LinkHost, size: number): Promise<boolean> {
    const deadline = Date.now() + host.settings.flushTimeoutMs;
    while (this.unflushed + size > host.settings.maxQueueBytes) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      this.flushing ??= this.flush(host);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise((resolve) => (timer = setTimeout(resolve, Math.min(left, 50))));
      await Promise.race([this.flushing, late]);
      clearTimeout(timer);
    }
    return true;
  }
}

/** The worker at `fwd.n.<name>` on every hub but the name's own: sends what it receives to that hub. */
class NameProxy implements Worker<unknown> {
  constructor(
    private readonly federation: Federation,
    private readonly name: string,
  ) {}

  handleMessage(ctx: Context, message: Routed<unknown>): Promise<unknown> | void {
    return this.federation.relay(ctx, this.name, message);
  }
}
