import type { Context } from '../node/context';
import type { Worker } from '../node/worker';
import type { RegistrationAdmission, RegistrationRefusal } from '../services/forwarding-service';
import { isRefusal } from '../services/forwarding-options';
import { ThrottledLog } from '../transport/throttled-log';
import { InMemoryVault } from '../vault/in-memory-vault';
import { EnvelopeKind, decodeEnvelope, type Envelope } from './envelope';
import { FramePieces } from './frame-pieces';
import {
  federationSettings,
  isBus,
  type FederationOptions,
  type FederationStats,
} from './federation-options';
import { FederationShared } from './federation-shared';
import { HubLinks } from './hub-link';
import { InboundFrames } from './inbound-frames';
import { Leases } from './leases';
import { NameRegistry, type FederatedClaim } from './name-registry';
import { MAX_RECORD_BYTES } from './name-record';
import { connectNats } from './nats-bus';

export {
  FEDERATION_DEFAULTS,
  type FederationLosses,
  type FederationOptions,
  type FederationStats,
  type FederationTransportInfo,
} from './federation-options';
export { subjectOf } from './federation-shared';
export type { FederatedClaim } from './name-registry';

/**
 * A hub's membership in a federation of hubs that act as one, on NATS (see docs/federation.md). It is
 * the forwarding service's `ForwarderDirectory`: a bound name is claimed in a JetStream key-value bucket
 * (create, or compare-and-swap on the revision for the owner taking it over), so that of hubs racing for a
 * name exactly one wins. Every hub watches the bucket and routes each name on another hub: one worker
 * of the hub, at `fwd.n.<name>` for every such name, sends what it receives to that hub's one subject,
 * unchanged; the hub there hands it to its forwarder. Each hub renews a lease (an epoch) with heartbeats; routes to a hub
 * whose lease ended, and records written in an earlier epoch, are not used, and frames that NATS may have
 * lost on the way are counted (`stats().lost`), never dropped silently.
 *
 * The parts: `NameRegistry` (the bucket: claims, the watch, routes to remote names), `Leases` (heartbeats),
 * `HubLinks` (frames out, with byte-bounded queues toward NATS), `InboundFrames` (frames in, and the loss
 * accounting); this class wires them to NATS and to the node.
 */
export class Federation {
  private readonly leases: Leases;
  private readonly links: HubLinks;
  private readonly names: NameRegistry;
  private readonly inbound: InboundFrames;
  /** Frames that cross NATS in pieces (the largest a hub publishes is the bus's largest payload). */
  private readonly pieces: FramePieces;
  private timers: NodeJS.Timeout[] = [];
  private subscriptions: { unsubscribe(): void }[] = [];

  private constructor(
    private readonly shared: FederationShared,
    private readonly ownsBus: boolean,
    names: (leases: Leases, links: HubLinks) => NameRegistry,
  ) {
    this.leases = new Leases(shared, (hub, why) => this.links.get(hub)?.peerGone(why));
    this.links = new HubLinks(shared, this.leases);
    this.names = names(this.leases, this.links);
    this.inbound = new InboundFrames(shared, this.links);
    this.pieces = new FramePieces(
      () => shared.bus.maxPayload,
      shared.settings.maxInboundBytes,
      (hub) => shared.warnings.warn({ from: hub }, 'gave up a frame in pieces: too many bytes in pieces'),
    );
  }

  /**
   * Connects to NATS, opens the bucket of names and starts the federation's workers on the node of `ctx`.
   * Pass the result as `directory` to `ForwardingService.start` (or use `startFederatedHub`). Rejects with
   * `FederationError` (`INVALID_OPTIONS`, `NATS_UNAVAILABLE`).
   */
  static async start(ctx: Context, options: FederationOptions): Promise<Federation> {
    const settings = federationSettings(options);
    const ownsBus = !isBus(options.nats);
    const bus = isBus(options.nats) ? options.nats : await connectNats(options.nats);
    try {
      const store = await bus.names(settings.bucket, {
        replicas: settings.replicas,
        maxBytes: settings.bucketMaxBytes,
        maxValueSize: MAX_RECORD_BYTES,
      });
      const vault = options.vault ?? (await InMemoryVault.create());
      // Milliseconds since 1970 at start: a later start of the same hub has a larger epoch.
      const shared = new FederationShared(options.hub, Date.now(), bus, settings);
      const federation = new Federation(
        shared,
        ownsBus,
        (leases, links) => new NameRegistry(shared, store, vault, leases, links),
      );
      await ctx.startWorker(`federation.${options.hub}`, federation.control);
      await federation.join();
      return federation;
    } catch (err) {
      if (ownsBus) await bus.close().catch(() => undefined);
      throw err;
    }
  }

  /** This hub's name in the federation. */
  get hub(): string {
    return this.shared.hub;
  }

  /** This hub's lease epoch: new at every start. */
  get epoch(): number {
    return this.shared.epoch;
  }

  /** What the federation has done and counted so far. */
  stats(): FederationStats {
    const { counters } = this.shared;
    const lost = { ...counters.lost };
    const { remote, local } = this.names.sizes;
    return {
      peers: this.leases.count(),
      remoteNames: remote,
      localNames: local,
      sent: counters.sent,
      received: counters.received,
      lost,
      lostTotal: Object.values(lost).reduce((a, b) => a + b, 0),
      forgedRecords: counters.forgedRecords,
      malformed: counters.malformed,
      refused: counters.refused,
      slowConsumers: counters.slowConsumers,
      disconnects: counters.disconnects,
    };
  }

  /** The hub a name's record points to, as this hub sees it now (this hub's own name for its own). */
  whereIs(name: string): string | undefined {
    return this.names.whereIs(name);
  }

  /** Stops heartbeats, subscriptions and workers, and closes NATS if the federation opened it. */
  async stop(): Promise<void> {
    const { shared } = this;
    if (shared.stopped) return;
    shared.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const sub of this.subscriptions) sub.unsubscribe();
    const workers = await this.names.stop();
    workers.push(...this.links.addresses());
    await Promise.all(workers.map((a) => shared.ctx.stopWorker(a).catch(() => undefined)));
    await shared.ctx.stopWorker(shared.ctx.address).catch(() => undefined);
    if (this.ownsBus) await shared.bus.close().catch(() => undefined);
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
      const { instance } = this.shared;
      if (instance === undefined) {
        return { code: 'LIMIT_REACHED', reason: 'the hub has not joined its federation yet' };
      }
      // Claimed federation-wide, the name keeps the time `next` admitted it for (a credential's expiry).
      return (await this.claim({ ...request.claim, name, owner, instance })) ?? verdict;
    };
  }

  /** Called once the hub's forwarding service runs: its instance id is the one its challenges carry. */
  attach(service: { readonly hub: string }): void {
    this.shared.instance = service.hub;
    this.leases.beat();
  }

  /**
   * Claims a bound name for this hub: undefined if granted, else the refusal (`NAME_TAKEN` if it is bound to
   * another identity). `claim` must have been verified (the service's challenge check does it).
   */
  claim(claim: FederatedClaim): Promise<RegistrationRefusal | undefined> {
    return this.names.claim(claim);
  }

  // --- joining ---------------------------------------------------------------------------------------

  private readonly control: Worker<unknown> = {
    initialize: (ctx: Context) => {
      const { shared } = this;
      shared.ctx = ctx;
      shared.logger = ctx.logger.child({ component: 'federation', hub: shared.hub });
      shared.warnings = new ThrottledLog(shared.logger);
    },
    handleMessage: () => undefined,
  };

  private async join(): Promise<void> {
    const { bus, counters, settings } = this.shared;
    bus.onEvent((event) => {
      const { logger, warnings } = this.shared;
      if (event.type === 'slowConsumer') {
        counters.slowConsumers++;
        warnings.warn({ pending: event.pending }, 'NATS reports this hub as a slow consumer');
      } else if (event.type === 'disconnect') {
        counters.disconnects++;
        logger.warn({}, 'disconnected from NATS; the client reconnects');
      } else if (event.type === 'reconnect') {
        logger.info({}, 'reconnected to NATS');
      }
    });
    const onEnvelope = (data: Uint8Array): void => this.onEnvelope(data);
    this.subscriptions.push(bus.subscribe(this.shared.subjectOf(this.shared.hub), onEnvelope));
    this.subscriptions.push(bus.subscribe(this.leases.subject, onEnvelope));
    await this.names.watch();
    const tick = setInterval(() => this.leases.tick(), settings.heartbeatMs);
    const acks = setInterval(() => {
      this.inbound.sendAcks();
      this.links.flushIdle();
    }, settings.ackIntervalMs);
    tick.unref();
    acks.unref();
    this.timers.push(tick, acks);
  }

  // --- from NATS -----------------------------------------------------------------------------------

  private onEnvelope(data: Uint8Array): void {
    const { shared } = this;
    if (shared.stopped) return;
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(data);
    } catch (err) {
      shared.counters.malformed++;
      shared.warnings.warn({ err }, 'dropped an envelope from NATS that does not decode');
      return;
    }
    if (envelope.hub === shared.hub) return; // our own heartbeat
    this.leases.heard(envelope);
    switch (envelope.kind) {
      case EnvelopeKind.HEARTBEAT:
        return;
      case EnvelopeKind.ACK:
        if (envelope.peerEpoch === shared.epoch)
          this.links.get(envelope.hub)?.acked(envelope.epoch, envelope.seq);
        return;
      case EnvelopeKind.DATA:
        return this.inbound.onData(envelope);
      case EnvelopeKind.PART:
      case EnvelopeKind.LAST:
        return this.onPiece(envelope);
    }
  }

  /** A piece of a frame: on to the frame's other pieces, and the frame on once whole. */
  private onPiece(piece: Envelope): void {
    let frame: Envelope | undefined;
    try {
      frame = this.pieces.add(piece);
    } catch (err) {
      this.shared.counters.malformed++;
      this.shared.warnings.warn({ err, from: piece.hub }, 'dropped the pieces of a frame from NATS');
      return;
    }
    if (frame !== undefined) this.inbound.onData(frame);
  }
}
