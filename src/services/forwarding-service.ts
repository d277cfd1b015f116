import { randomBytes } from 'node:crypto';
import type { Address } from '../core/address';
import { vouchForOrigin, type LocalInfo, type Routed } from '../core/message';
import type { Route } from '../core/route';
import type { Context } from '../node/context';
import type { Logger } from '../node/logger';
import type { Worker } from '../node/worker';
import { ThrottledLog } from '../node/throttled-log';
import { ForwarderStateFile, type ForwarderState } from './forwarder-state';
import { ForwarderTable, type ForwarderRegistry } from './forwarder-table';
import { ForwarderWorkers } from './forwarder-workers';
import { ForwardingLimits, sourceOf } from './forwarding-limits';
import {
  isRequest,
  parseForwardingRequest,
  type ForwardingReply,
  REFUSAL_CODES,
  type RefusalCode,
  type RegisterRequest,
  type UnregisterRequest,
} from './forwarding-messages';
import {
  forwardingSettings,
  type ForwarderInfo,
  type ForwardingServiceOptions,
  type ForwardingSettings,
  type ForwardingStats,
} from './forwarding-options';
import { ChallengeBook, hashToken, sameHash } from './name-claims';
import { Registrar } from './registrar';
import { RegistrationsInFlight } from './registrations-in-flight';

export {
  FORWARDING_DEFAULTS,
  type ForwarderInfo,
  type ForwardingServiceOptions,
  type ForwardingStats,
  type AdmissionVerdict,
  type RegistrationAdmission,
  type RegistrationAdmitted,
  type RegistrationRefusal,
  type RegistrationRequest,
} from './forwarding-options';
export type { ForwarderChange, ForwarderRegistry } from './forwarder-table';
export { sourceOf } from './forwarding-limits';

type Reply = [ForwardingReply, Promise<void> | undefined];

/**
 * A forwarding service for a hub: a client behind the hub (a node that can connect out but not be
 * reached) registers, and the service starts a forwarder at an unguessable address (`fwd.r.<32 hex>`) or at
 * a name (`fwd.n.<name>`). A message to `[TCP, hub] => forwarder` is sent on along the registration's return
 * route, over the client's own connection, to its `RemoteForwarder`; `[TCP, hub] => forwarder => more` goes
 * on to `more` on the client's node. A forwarder dies with the first hop of its route (the connection
 * worker): the service watches the node's `workerStopped`, so it works the same for any transport.
 *
 * Names and addresses cannot be taken (docs/SECURITY.md): random and named forwarders live in separate
 * namespaces; a random address is never issued twice and stays reserved for its token for
 * `reattachGraceMs` after its connection went away; an unbound name likewise; a name bound to an identity
 * (registered with a signed, single-use challenge) goes back to that identity only, at once, for
 * `boundNameTtlMs`, and with `statePath` across hub restarts. Every refusal is answered with a typed code,
 * logged (throttled) and counted (`stats()`).
 */
export class ForwardingService implements Worker<unknown> {
  private readonly options: ForwardingSettings;
  private readonly table: ForwarderTable;
  private readonly challenges: ChallengeBook;
  private readonly registrar: Registrar;
  private readonly counters = {
    registered: 0,
    reattached: 0,
    dropped: 0,
    persistFailures: 0,
    refused: Object.fromEntries(REFUSAL_CODES.map((code) => [code, 0])) as Record<RefusalCode, number>,
  };
  private readonly registering = new RegistrationsInFlight(1_024, (err: unknown) =>
    this.logger.error({ err }, 'a registration failed'),
  );
  private readonly workers: ForwarderWorkers;
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private ctx!: Context;
  private logger: Logger;
  private refusals!: ThrottledLog;
  private unwatchWorkers: (() => void) | undefined;

  private constructor(
    ctx: Context,
    options: ForwardingServiceOptions,
    private readonly hubId: string,
    private readonly stateFile: ForwarderStateFile | undefined,
  ) {
    this.options = forwardingSettings(options);
    this.logger = ctx.logger;
    this.table = new ForwarderTable(this.options, ctx.logger, () => void this.persist());
    this.challenges = new ChallengeBook(hubId, this.options);
    const limits = new ForwardingLimits(this.table, this.options);
    this.workers = new ForwarderWorkers(this.table, () => this.ctx, this.persist);
    const { admit, vault } = options;
    this.registrar = new Registrar(this.table, limits, this.challenges, admit, vault, ctx.logger);
  }

  /**
   * Starts a forwarding service at `address` (a worker that accepts messages from transports). With
   * `options.statePath`, the table is read from it first (rejects with `ServicesError` `STATE_FILE` if it
   * is locked by another live hub, unreadable or malformed); every reloaded entry starts reserved. Rejects
   * with `INVALID_OPTION` for an option out of its range.
   */
  static async create(
    ctx: Context,
    address: string | Address = 'forwarding_service',
    options: ForwardingServiceOptions = {},
  ): Promise<ForwardingService> {
    forwardingSettings(options); // before the state file is locked
    let stateFile: ForwarderStateFile | undefined;
    let state: ForwarderState = { hub: randomBytes(16).toString('hex'), slots: [] };
    if (options.statePath !== undefined)
      ({ file: stateFile, state } = await ForwarderStateFile.open(options.statePath));
    const service = new ForwardingService(ctx, options, state.hub, stateFile);
    service.table.restore(state.slots);
    try {
      await ctx.startWorker(address, service, { acceptsTransportMessages: true });
    } catch (err) {
      await stateFile?.close();
      throw err;
    }
    return service;
  }

  /** @deprecated Use `ForwardingService.create`: `create` is the one factory verb of the API. */
  static start(
    ctx: Context,
    address: string | Address = 'forwarding_service',
    options: ForwardingServiceOptions = {},
  ): Promise<ForwardingService> {
    return ForwardingService.create(ctx, address, options);
  }

  /** The service's address. */
  get address(): Address {
    return this.ctx.address;
  }

  /** The hub's instance id, signed in name claims (kept in the state file across restarts). */
  get hub(): string {
    return this.hubId;
  }

  /** The live forwarders, to look up and follow (e.g. for a federation of hubs). */
  get registry(): ForwarderRegistry {
    return this.table;
  }

  /** The live forwarders. */
  forwarders(): ForwarderInfo[] {
    return this.table.list();
  }

  /** What the service has done and refused so far. */
  stats(): ForwardingStats {
    return {
      live: this.table.liveCount,
      reserved: this.table.slots.size - this.table.liveCount,
      boundNames: this.table.boundCount,
      registered: this.counters.registered,
      reattached: this.counters.reattached,
      expired: this.table.expired,
      refused: { ...this.counters.refused },
      dropped: this.counters.dropped,
      admissionsExpired: this.workers.admissionsExpired,
      persistFailures: this.counters.persistFailures,
      forwarded: this.workers.forwarded,
    };
  }

  /** Stops the service and every forwarder it started (the state file keeps every name, now reserved). */
  stop(): Promise<void> {
    return this.ctx.stopWorker(this.ctx.address);
  }

  // --- the worker --------------------------------------------------------------------------------------

  initialize(ctx: Context): void {
    this.ctx = ctx;
    this.logger = ctx.logger;
    this.refusals = new ThrottledLog(ctx.logger);
    this.unwatchWorkers = ctx.onWorkerStopped(this.workers.onWorkerStopped);
    const every = Math.max(100, Math.min(this.options.reattachGraceMs, this.options.challengeTtlMs, 10_000));
    this.sweepTimer = setInterval(() => {
      this.table.sweep();
      this.challenges.sweep();
    }, every);
    this.sweepTimer.unref();
  }

  async handleMessage(ctx: Context, message: Routed<unknown>): Promise<void> {
    const parsed = parseForwardingRequest(message.body);
    if (message.returnRoute.isEmpty || (!isRequest(parsed) && parsed.nonce === undefined)) {
      // Nowhere to answer (and, for a registration, nowhere to forward to).
      this.counters.dropped++;
      this.refusals.warn(
        { from: message.returnRoute.toString() },
        'dropped an unanswerable forwarding request',
      );
      return;
    }
    const returnRoute = message.returnRoute;
    if (!isRequest(parsed)) {
      await ctx.send(returnRoute, this.refuse(parsed.nonce!, parsed.code, parsed.reason, returnRoute));
      return;
    }
    const source = sourceOf(message.localInfo, returnRoute.next!);
    switch (parsed.type) {
      case 'challenge':
        await ctx.send(returnRoute, this.challenge(returnRoute, source, parsed.nonce));
        return;
      case 'register': {
        const answer = async (): Promise<void> => {
          const [reply, durable] = await this.register(returnRoute, source, parsed, message.localInfo);
          // A connection that holds a forwarder is in use: not an idle one to time out or evict.
          if (reply.type === 'registered') vouchForOrigin(message);
          // Answer once the change is on disk, without holding up the requests behind this one.
          if (durable === undefined) await ctx.send(returnRoute, reply);
          else void durable.then(() => ctx.send(returnRoute, reply)).catch(() => undefined);
        };
        return parsed.name === undefined ? answer() : this.registering.run(parsed.name, answer);
      }
      case 'ping': {
        const alive = this.table.forwardsAlong(parsed.address, returnRoute);
        await ctx.send(returnRoute, { type: 'pong', nonce: parsed.nonce, alive });
        return;
      }
      case 'unregister':
        await ctx.send(returnRoute, await this.unregister(returnRoute, parsed));
        return;
    }
  }

  async shutdown(ctx: Context): Promise<void> {
    this.stopping = true;
    await this.registering.settled();
    this.unwatchWorkers?.();
    clearInterval(this.sweepTimer);
    this.workers.stop();
    this.refusals.flush();
    const live = [...this.table.slots.values()].filter((entry) => entry.live);
    for (const entry of live) this.table.release(entry, 'the service stopped');
    await Promise.all(live.map((entry) => ctx.stopWorker(entry.address).catch(() => undefined)));
    if (this.stateFile !== undefined) {
      await this.persist();
      await this.stateFile.close();
    }
  }

  // --- requests ----------------------------------------------------------------------------------------

  private refuse(nonce: string, code: RefusalCode, reason: string, from: Route): ForwardingReply {
    this.counters.refused[code]++;
    this.refusals.warn({ code, reason, from: from.toString() }, 'refused a forwarding request');
    return { type: 'refused', nonce, code, reason };
  }

  private challenge(returnRoute: Route, source: string, nonce: string): ForwardingReply {
    const challenge = this.challenges.issue(returnRoute, source);
    if (challenge === undefined) {
      return this.refuse(nonce, 'LIMIT_REACHED', 'too many challenges outstanding at the hub', returnRoute);
    }
    return { type: 'challenge', nonce, challenge, hub: this.hubId };
  }

  /** The reply, and the write it must wait for (if the table changed and is kept on disk). */
  private async register(
    returnRoute: Route,
    source: string,
    request: RegisterRequest,
    localInfo: LocalInfo,
  ): Promise<Reply> {
    const { nonce, name } = request;
    const admitted = await this.registrar.decide(request, returnRoute, source, localInfo);
    if ('code' in admitted)
      return [this.refuse(nonce, admitted.code, admitted.reason, returnRoute), undefined];
    // Checked again with no pause before the table changes: other registrations ran during the admission.
    const decided = this.stopping
      ? ({ code: 'LIMIT_REACHED', reason: 'the hub is stopping' } as const)
      : this.registrar.check(request, admitted.owner, returnRoute, source);
    if ('code' in decided) return [this.refuse(nonce, decided.code, decided.reason, returnRoute), undefined];
    const { token, owner } = decided;
    let entry = decided.entry;
    if (entry === undefined) {
      entry = this.table.add(name, owner, hashToken(token), source, returnRoute);
      this.counters.registered++;
    } else {
      if (owner !== undefined && entry.owner === undefined) this.table.setOwner(entry, owner);
      entry.tokenHash = hashToken(token);
      this.table.setSource(entry, source);
      this.counters.reattached++;
    }
    if (!(await this.workers.attach(entry, returnRoute, admitted.admittedUntil))) {
      const why = `${entry.address.value} could not be started`;
      return [this.refuse(nonce, 'LIMIT_REACHED', why, returnRoute), undefined];
    }
    const reply: ForwardingReply = {
      type: 'registered',
      nonce,
      address: entry.address.value,
      token,
      ...(entry.owner === undefined ? {} : { owner: entry.owner }),
    };
    return [reply, this.stateFile === undefined ? undefined : this.persist()];
  }

  private async unregister(returnRoute: Route, request: UnregisterRequest): Promise<ForwardingReply> {
    const entry = this.table.slots.get(request.address);
    if (entry === undefined || !sameHash(entry.tokenHash, request.token)) {
      return this.refuse(request.nonce, 'NOT_FOUND', 'no such forwarder', returnRoute);
    }
    const wasLive = entry.live;
    // A bound name stays its owner's (reserved, as after a restart) unless the owner asks to forget it.
    if (entry.owner !== undefined && request.forget !== true)
      this.table.release(entry, 'unregistered by its owner');
    else this.table.remove(entry, 'unregistered by its owner');
    if (wasLive) await this.ctx.stopWorker(entry.address).catch(() => undefined);
    void this.persist();
    return { type: 'unregistered', nonce: request.nonce };
  }

  // --- persistence -------------------------------------------------------------------------------------

  /** Writes the table if it is kept on disk; a failure is logged and counted, never thrown. */
  private readonly persist = (): Promise<void> => {
    if (this.stateFile === undefined) return Promise.resolve();
    return this.stateFile
      .save(() => this.table.snapshot(this.hubId))
      .catch((err: unknown) => {
        this.counters.persistFailures++;
        this.logger.error({ err, path: this.stateFile?.path }, 'could not write the forwarder state file');
      });
  };
}
