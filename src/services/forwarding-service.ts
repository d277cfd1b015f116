import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { Address } from '../core/address';
import { TRANSPORT_INFO, originOf, vouchForOrigin, type LocalInfo, type Routed } from '../core/message';
import { Route } from '../core/route';
import { identifierOf } from '../identity/identity';
import type { Context } from '../node/context';
import type { Logger } from '../node/logger';
import type { Worker } from '../node/worker';
import { ThrottledLog } from '../transport/throttled-log';
import { InMemoryVault } from '../vault/in-memory-vault';
import type { Vault } from '../vault/vault';
import { ForwarderStateFile, type ForwarderState, type SlotRecord } from './forwarder-state';
import {
  NAMED_PREFIX,
  RANDOM_PREFIX,
  isRequest,
  nameClaimStatement,
  parseForwardingRequest,
  type ForwardingReply,
  type NameClaim,
  type PingRequest,
  REFUSAL_CODES,
  type RefusalCode,
  type RegisterRequest,
  type UnregisterRequest,
} from './forwarding-messages';

/** How a forwarding service behaves. Every field but `statePath` and `vault` has a default (`FORWARDING_DEFAULTS`). */
export interface ForwardingServiceOptions {
  /** Live forwarders plus the reservations of random and unbound names in their grace period, hub-wide. */
  readonly maxForwarders?: number;
  /** Live forwarders that share a route's first hop (one client connection). */
  readonly maxForwardersPerConnection?: number;
  /**
   * Forwarders and names (live or reserved, bound names included) last registered from one source: a remote
   * IPv4 address, or an IPv6 /64 (one host usually holds a whole /64). A bound name's owner taking its own
   * name back is not refused by this cap.
   */
  readonly maxForwardersPerSource?: number;
  /** Identity-bound names the hub keeps, live or not. */
  readonly maxBoundNames?: number;
  /** Names bound to one identity. */
  readonly maxNamesPerIdentity?: number;
  /**
   * How long a random address or an unbound name stays reserved for the holder of its token after its
   * forwarder went away (its connection dropped, or the hub restarted), before its slot is freed.
   */
  readonly reattachGraceMs?: number;
  /** How long a bound name stays reserved for its identity after its forwarder went away. */
  readonly boundNameTtlMs?: number;
  /** How long a challenge for an identity-bound registration may be used (once). */
  readonly challengeTtlMs?: number;
  /** Challenges outstanding per source (a newer one replaces the oldest). */
  readonly maxChallengesPerSource?: number;
  /** Challenges outstanding hub-wide (beyond it, `LIMIT_REACHED`). */
  readonly maxChallenges?: number;
  /**
   * Where the hub keeps its table of names and addresses (JSON, replaced atomically on every change, locked
   * by `<path>.lock`), so that bound names, unbound names and random addresses survive a hub restart or a
   * crash. Without it the table lives in memory only: a restarted hub has forgotten every name, and whoever
   * asks first gets it.
   */
  readonly statePath?: string;
  /** The vault whose `verify` and `hash` check identity proofs (default: a new in-memory vault). */
  readonly vault?: Vault;
}

/** The defaults of `ForwardingServiceOptions` (a hub without a state file keeps its table in memory only). */
export const FORWARDING_DEFAULTS = Object.freeze({
  maxForwarders: 10_000,
  maxForwardersPerConnection: 16,
  maxForwardersPerSource: 64,
  maxBoundNames: 10_000,
  maxNamesPerIdentity: 8,
  reattachGraceMs: 60_000,
  boundNameTtlMs: 30 * 24 * 3_600_000,
  challengeTtlMs: 30_000,
  maxChallengesPerSource: 16,
  maxChallenges: 10_000,
});

/** A forwarder the service made, as `forwarders()` lists it. */
export interface ForwarderInfo {
  /** Its local address on the hub (`fwd.r.<hex>` or `fwd.n.<name>`). */
  readonly address: Address;
  readonly name: string | undefined;
  /** The identifier its name is bound to, if it is bound. */
  readonly owner: string | undefined;
  /** Where it sends what it receives: the registration's return route. */
  readonly route: Route;
}

/** What the service has done and refused since it started (`stats()`). */
export interface ForwardingStats {
  /** Forwarders live now. */
  readonly live: number;
  /** Random addresses and names reserved for an absent holder now. */
  readonly reserved: number;
  /** Identity-bound names kept now (live or not). */
  readonly boundNames: number;
  /** New forwarders registered. */
  readonly registered: number;
  /** Names and addresses taken back by their holder (token or identity). */
  readonly reattached: number;
  /** Reservations that expired, freeing their slots. */
  readonly expired: number;
  /** Refusals answered, by code. */
  readonly refused: Readonly<Record<RefusalCode, number>>;
  /** Requests dropped unanswered (no well-formed nonce, or no return route). */
  readonly dropped: number;
  /** Writes of the state file that failed (the table stays right in memory; the next change retries). */
  readonly persistFailures: number;
}

/** A slot of the table: a live forwarder, or an address or name reserved for an absent holder. */
interface Entry {
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

interface Challenge {
  readonly firstHop: string;
  readonly source: string;
  readonly expiresAt: number;
}

function newToken(): string {
  return randomBytes(16).toString('hex');
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function sameHash(expected: string, token: string | undefined): boolean {
  if (token === undefined) return false;
  return timingSafeEqual(Buffer.from(expected, 'hex'), createHash('sha256').update(token).digest());
}

/**
 * Who a request counts against: the remote IP of the connection it came by (an IPv6 address by its /64),
 * or, for a request that did not come straight from a transport, its first hop.
 */
export function sourceOf(localInfo: LocalInfo, firstHop: Address): string {
  const remote = (localInfo[TRANSPORT_INFO] as { remote?: unknown } | undefined)?.remote;
  if (typeof remote !== 'string') return `hop:${firstHop.value}`;
  let host = remote.slice(0, Math.max(0, remote.lastIndexOf(':')));
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped !== null) return mapped[1]!;
  if (isIP(host) !== 6) return host;
  const [left = '', right] = host.toLowerCase().split('::');
  const head = left === '' ? [] : left.split(':');
  const tail = right === undefined || right === '' ? [] : right.split(':');
  const groups = [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

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
  private readonly options: typeof FORWARDING_DEFAULTS;
  private readonly slots = new Map<string, Entry>();
  private readonly byFirstHop = new Map<string, Set<Entry>>();
  private readonly bySource = new Map<string, number>();
  private readonly byOwner = new Map<string, number>();
  private readonly challenges = new Map<string, Challenge>();
  private readonly challengesBySource = new Map<string, string[]>();
  private liveCount = 0;
  private unboundCount = 0;
  private boundCount = 0;
  private readonly counters = {
    registered: 0,
    reattached: 0,
    expired: 0,
    dropped: 0,
    persistFailures: 0,
    refused: Object.fromEntries(REFUSAL_CODES.map((code) => [code, 0])) as Record<RefusalCode, number>,
  };
  private sweepTimer: NodeJS.Timeout | undefined;
  private ctx!: Context;
  private logger!: Logger;
  private refusals!: ThrottledLog;
  private unwatchWorkers: (() => void) | undefined;

  private constructor(
    options: ForwardingServiceOptions,
    /** Made on the first identity claim: loading libsodium would slow every hub's start. */
    private vault: Vault | undefined,
    private readonly hubId: string,
    private readonly stateFile: ForwarderStateFile | undefined,
  ) {
    const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
    this.options = { ...FORWARDING_DEFAULTS, ...defined };
  }

  /**
   * Starts a forwarding service at `address` (a worker that accepts messages from transports). With
   * `options.statePath`, the table is read from it first (rejects with `ServicesError` `STATE_FILE` if it
   * is locked by another live hub, unreadable or malformed); every reloaded entry starts reserved.
   */
  static async start(
    ctx: Context,
    address: string | Address = 'forwarding_service',
    options: ForwardingServiceOptions = {},
  ): Promise<ForwardingService> {
    let stateFile: ForwarderStateFile | undefined;
    let state: ForwarderState = { hub: randomBytes(16).toString('hex'), slots: [] };
    if (options.statePath !== undefined)
      ({ file: stateFile, state } = await ForwarderStateFile.open(options.statePath));
    const service = new ForwardingService(options, options.vault, state.hub, stateFile);
    service.restore(state.slots);
    try {
      await ctx.startWorker(address, service, { acceptsTransportMessages: true });
    } catch (err) {
      await stateFile?.close();
      throw err;
    }
    return service;
  }

  /** The service's address. */
  get address(): Address {
    return this.ctx.address;
  }

  /** The hub's instance id, signed in name claims (kept in the state file across restarts). */
  get hub(): string {
    return this.hubId;
  }

  /** The live forwarders. */
  forwarders(): ForwarderInfo[] {
    return [...this.slots.values()]
      .filter((entry) => entry.live)
      .map(({ address, name, owner, route }) => ({ address, name, owner, route }));
  }

  /** What the service has done and refused so far. */
  stats(): ForwardingStats {
    return {
      live: this.liveCount,
      reserved: this.slots.size - this.liveCount,
      boundNames: this.boundCount,
      registered: this.counters.registered,
      reattached: this.counters.reattached,
      expired: this.counters.expired,
      refused: { ...this.counters.refused },
      dropped: this.counters.dropped,
      persistFailures: this.counters.persistFailures,
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
    this.unwatchWorkers = ctx.onWorkerStopped(this.onWorkerStopped);
    const every = Math.max(100, Math.min(this.options.reattachGraceMs, this.options.challengeTtlMs, 10_000));
    this.sweepTimer = setInterval(() => this.sweep(), every);
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
        const [reply, durable] = await this.register(returnRoute, source, parsed);
        // A connection that holds a forwarder is in use: not an idle one to time out or evict.
        if (reply.type === 'registered') vouchForOrigin(message);
        if (durable === undefined) {
          await ctx.send(returnRoute, reply);
          return;
        }
        // Answer once the change is on disk, without holding up the requests behind this one.
        void durable.then(() => ctx.send(returnRoute, reply)).catch(() => undefined);
        return;
      }
      case 'ping':
        await ctx.send(returnRoute, this.ping(returnRoute, parsed));
        return;
      case 'unregister':
        await ctx.send(returnRoute, await this.unregister(returnRoute, parsed));
        return;
    }
  }

  async shutdown(ctx: Context): Promise<void> {
    this.unwatchWorkers?.();
    clearInterval(this.sweepTimer);
    this.refusals.flush();
    const live = [...this.slots.values()].filter((entry) => entry.live);
    for (const entry of live) this.release(entry, 'the service stopped');
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
    const now = Date.now();
    if (this.challenges.size >= this.options.maxChallenges) this.sweepChallenges(now);
    const mine = this.challengesBySource.get(source) ?? [];
    if (mine.length >= this.options.maxChallengesPerSource) this.challenges.delete(mine.shift()!);
    else if (this.challenges.size >= this.options.maxChallenges) {
      return this.refuse(nonce, 'LIMIT_REACHED', 'too many challenges outstanding at the hub', returnRoute);
    }
    const challenge = randomBytes(16).toString('hex');
    this.challenges.set(challenge, {
      firstHop: returnRoute.next!.key,
      source,
      expiresAt: now + this.options.challengeTtlMs,
    });
    mine.push(challenge);
    this.challengesBySource.set(source, mine);
    return { type: 'challenge', nonce, challenge, hub: this.hubId };
  }

  /** The identifier whose key signed `claim` for `name` over a live challenge issued on this connection. */
  private verifyClaim(claim: NameClaim, name: string, returnRoute: Route, vault: Vault): string | undefined {
    const issued = this.challenges.get(claim.challenge);
    if (issued === undefined) return undefined;
    this.challenges.delete(claim.challenge); // single use, whatever the outcome
    this.forgetChallenge(issued.source, claim.challenge);
    if (issued.expiresAt <= Date.now() || issued.firstHop !== returnRoute.next!.key) return undefined;
    const statement = nameClaimStatement(this.hubId, claim.challenge, name, claim.key);
    if (!vault.verify(claim.key, statement, claim.sig)) return undefined;
    return identifierOf(vault, claim.key);
  }

  /** The reply, and the write it must wait for (if the table changed and is kept on disk). */
  private async register(
    returnRoute: Route,
    source: string,
    request: RegisterRequest,
  ): Promise<[ForwardingReply, Promise<void> | undefined]> {
    const { nonce, name } = request;
    const refused = (code: RefusalCode, reason: string): [ForwardingReply, undefined] => [
      this.refuse(nonce, code, reason, returnRoute),
      undefined,
    ];
    let owner: string | undefined;
    if (request.claim !== undefined) {
      this.vault ??= await InMemoryVault.create();
      owner = this.verifyClaim(request.claim, name!, returnRoute, this.vault);
      if (owner === undefined)
        return refused('BAD_PROOF', 'the identity proof does not verify for this challenge');
    }
    const now = Date.now();
    let entry: Entry | undefined;
    let token: string;
    if (name !== undefined) {
      entry = this.lookup(NAMED_PREFIX + name, now);
      if (entry !== undefined && entry.owner !== undefined) {
        if (owner !== entry.owner) {
          return refused('NAME_TAKEN', `the name ${name} is bound to another identity`);
        }
        token = newToken(); // the owner is back, perhaps as a new process: a new token
      } else if (entry !== undefined) {
        if (!sameHash(entry.tokenHash, request.token)) {
          return refused('NAME_TAKEN', `the name ${name} is taken`);
        }
        token = request.token!;
        if (owner !== undefined) {
          // The holder of an unbound name binds it to its identity.
          const refusal = this.bindLimits(owner);
          if (refusal !== undefined) return refused('LIMIT_REACHED', refusal);
        }
      } else {
        token = newToken();
      }
    } else {
      const previous = request.address === undefined ? undefined : this.lookup(request.address, now);
      // An unknown address or a wrong token gets a new address, revealing nothing about the old one.
      if (previous !== undefined && sameHash(previous.tokenHash, request.token)) {
        entry = previous;
        token = request.token!;
      } else {
        token = newToken();
      }
    }

    if (entry === undefined) {
      const refusal = this.newSlotLimits(returnRoute, source, owner);
      if (refusal !== undefined) return refused('LIMIT_REACHED', refusal);
      entry = this.addSlot(name, owner, hashToken(token), source, returnRoute);
      this.counters.registered++;
    } else {
      const bypassSource = entry.owner !== undefined && entry.owner === owner;
      const refusal = this.attachLimits(entry, returnRoute, source, bypassSource);
      if (refusal !== undefined) return refused('LIMIT_REACHED', refusal);
      if (owner !== undefined && entry.owner === undefined) this.setOwner(entry, owner);
      entry.tokenHash = hashToken(token);
      this.setSource(entry, source);
      this.counters.reattached++;
    }
    if (!(await this.attach(entry, returnRoute))) {
      return refused('LIMIT_REACHED', `${entry.address.value} could not be started`);
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

  private ping(returnRoute: Route, request: PingRequest): ForwardingReply {
    const entry = this.slots.get(request.address);
    // Alive only if it still forwards along the route the ping came by: after a reconnect it does not.
    const alive = entry !== undefined && entry.live && entry.route.equals(returnRoute);
    return { type: 'pong', nonce: request.nonce, alive };
  }

  private async unregister(returnRoute: Route, request: UnregisterRequest): Promise<ForwardingReply> {
    const entry = this.slots.get(request.address);
    if (entry === undefined || !sameHash(entry.tokenHash, request.token)) {
      return this.refuse(request.nonce, 'NOT_FOUND', 'no such forwarder', returnRoute);
    }
    const wasLive = entry.live;
    // A bound name stays its owner's (reserved, as after a restart) unless the owner asks to forget it.
    if (entry.owner !== undefined && request.forget !== true)
      this.release(entry, 'unregistered by its owner');
    else this.removeSlot(entry, 'unregistered by its owner');
    if (wasLive) await this.ctx.stopWorker(entry.address).catch(() => undefined);
    void this.persist();
    return { type: 'unregistered', nonce: request.nonce };
  }

  // --- limits ------------------------------------------------------------------------------------------

  private newSlotLimits(route: Route, source: string, owner: string | undefined): string | undefined {
    const o = this.options;
    const check = (): string | undefined => {
      // Counting live bound forwarders costs a pass over the live ones: only near the limit.
      const nearLimit = this.unboundCount + this.liveCount >= o.maxForwarders;
      if (owner === undefined && nearLimit && this.unboundCount + this.liveBound() >= o.maxForwarders) {
        return `the hub holds its maximum of ${o.maxForwarders} forwarders and reservations`;
      }
      if (owner !== undefined) {
        const refusal = this.bindLimits(owner);
        if (refusal !== undefined) return refusal;
        if (this.liveCount >= o.maxForwarders)
          return `the hub holds its maximum of ${o.maxForwarders} forwarders`;
      }
      if ((this.bySource.get(source) ?? 0) >= o.maxForwardersPerSource) {
        return `this source (${source}) holds its maximum of ${o.maxForwardersPerSource} forwarders and names`;
      }
      return this.connectionLimit(route);
    };
    // Expired reservations free their slots: sweep before refusing.
    return check() === undefined ? undefined : (this.sweep(), check());
  }

  private bindLimits(owner: string): string | undefined {
    if ((this.byOwner.get(owner) ?? 0) >= this.options.maxNamesPerIdentity) {
      return `this identity holds its maximum of ${this.options.maxNamesPerIdentity} names`;
    }
    if (this.boundCount >= this.options.maxBoundNames) {
      return `the hub holds its maximum of ${this.options.maxBoundNames} bound names`;
    }
    return undefined;
  }

  private attachLimits(
    entry: Entry,
    route: Route,
    source: string,
    bypassSource: boolean,
  ): string | undefined {
    const check = (): string | undefined => {
      if (!entry.live && this.liveCount >= this.options.maxForwarders) {
        return `the hub holds its maximum of ${this.options.maxForwarders} forwarders`;
      }
      if (!bypassSource && entry.source !== source) {
        if ((this.bySource.get(source) ?? 0) >= this.options.maxForwardersPerSource) {
          return `this source (${source}) holds its maximum of ${this.options.maxForwardersPerSource} forwarders and names`;
        }
      }
      if (entry.live && entry.route.next!.equals(route.next!)) return undefined;
      return this.connectionLimit(route);
    };
    return check() === undefined ? undefined : (this.sweep(), check());
  }

  private connectionLimit(route: Route): string | undefined {
    const sharing = this.byFirstHop.get(route.next!.key)?.size ?? 0;
    if (sharing >= this.options.maxForwardersPerConnection) {
      return `this connection holds its maximum of ${this.options.maxForwardersPerConnection} forwarders`;
    }
    return undefined;
  }

  private liveBound(): number {
    let n = 0;
    for (const set of this.byFirstHop.values()) for (const entry of set) if (entry.owner !== undefined) n++;
    return n;
  }

  // --- the table ---------------------------------------------------------------------------------------

  /** The slot at `address`, unless its reservation has expired (then it is freed). */
  private lookup(address: string, now: number): Entry | undefined {
    const entry = this.slots.get(address);
    if (entry === undefined || entry.live) return entry;
    if (now - entry.releasedAt < this.lifetime(entry)) return entry;
    this.expire(entry);
    return undefined;
  }

  private lifetime(entry: Entry): number {
    return entry.owner === undefined ? this.options.reattachGraceMs : this.options.boundNameTtlMs;
  }

  private addSlot(
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

  private setOwner(entry: Entry, owner: string): void {
    if (entry.owner === undefined) this.unboundCount--;
    else this.byOwner.set(entry.owner, this.byOwner.get(entry.owner)! - 1);
    entry.owner = owner;
    this.boundCount++;
    this.byOwner.set(owner, (this.byOwner.get(owner) ?? 0) + 1);
  }

  private setSource(entry: Entry, source: string): void {
    if (entry.source === source) return;
    this.decrement(this.bySource, entry.source);
    entry.source = source;
    this.bySource.set(source, (this.bySource.get(source) ?? 0) + 1);
  }

  private decrement(map: Map<string, number>, key: string): void {
    const n = (map.get(key) ?? 0) - 1;
    if (n > 0) map.set(key, n);
    else map.delete(key);
  }

  /** Makes `entry` forward along `route`: starts its worker, or moves it to the new route. */
  private async attach(entry: Entry, route: Route): Promise<boolean> {
    if (entry.live) {
      if (!entry.route.equals(route)) {
        this.unindex(entry);
        entry.route = route;
        this.index(entry);
        this.logger.info({ forwarder: entry.address.value, route: route.toString() }, 'forwarder rerouted');
      }
      return true;
    }
    entry.route = route;
    entry.live = true;
    entry.releasedAt = 0;
    this.liveCount++;
    this.index(entry);
    try {
      await this.ctx.startWorker(entry.address, new Forwarder(entry), { acceptsTransportMessages: true });
    } catch (err) {
      this.logger.warn({ err, address: entry.address.value }, 'could not start a forwarder');
      this.release(entry, 'its worker did not start');
      return false;
    }
    this.logger.info({ forwarder: entry.address.value, route: route.toString() }, 'forwarder registered');
    return true;
  }

  /** Its forwarder is gone (the caller stops the worker, or it has stopped): the slot is now reserved. */
  private release(entry: Entry, why: string): void {
    if (!entry.live || this.slots.get(entry.address.value) !== entry) return;
    entry.live = false;
    entry.releasedAt = Date.now();
    this.liveCount--;
    this.unindex(entry);
    this.logger.info({ forwarder: entry.address.value }, `forwarder removed, its slot reserved: ${why}`);
  }

  private removeSlot(entry: Entry, why: string): void {
    if (this.slots.get(entry.address.value) !== entry) return;
    if (entry.live) {
      entry.live = false;
      this.liveCount--;
      this.unindex(entry);
    }
    this.slots.delete(entry.address.value);
    this.decrement(this.bySource, entry.source);
    if (entry.owner === undefined) this.unboundCount--;
    else {
      this.boundCount--;
      this.decrement(this.byOwner, entry.owner);
    }
    this.logger.info({ forwarder: entry.address.value }, `forwarder slot freed: ${why}`);
  }

  private expire(entry: Entry): void {
    this.counters.expired++;
    this.removeSlot(entry, 'its reservation expired');
    void this.persist();
  }

  /** Frees expired reservations and challenges. */
  private sweep(): void {
    const now = Date.now();
    let changed = false;
    for (const entry of [...this.slots.values()]) {
      if (!entry.live && now - entry.releasedAt >= this.lifetime(entry)) {
        this.counters.expired++;
        this.removeSlot(entry, 'its reservation expired');
        changed = true;
      }
    }
    if (changed) void this.persist();
    this.sweepChallenges(now);
  }

  private sweepChallenges(now: number): void {
    for (const [challenge, issued] of this.challenges) {
      if (issued.expiresAt > now) continue;
      this.challenges.delete(challenge);
      this.forgetChallenge(issued.source, challenge);
    }
  }

  private forgetChallenge(source: string, challenge: string): void {
    const list = this.challengesBySource.get(source);
    const at = list?.indexOf(challenge) ?? -1;
    if (at >= 0) list!.splice(at, 1);
    if (list?.length === 0) this.challengesBySource.delete(source);
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

  // --- persistence -------------------------------------------------------------------------------------

  /** Reloads a saved table: every entry starts reserved; grace periods count from now. */
  private restore(records: readonly SlotRecord[]): void {
    const now = Date.now();
    for (const record of records) {
      const named = record.address.startsWith(NAMED_PREFIX);
      const entry = this.addSlot(
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

  private snapshot = (): ForwarderState => ({
    hub: this.hubId,
    slots: [...this.slots.values()].map((entry) => ({
      address: entry.address.value,
      owner: entry.owner,
      tokenHash: entry.tokenHash,
      source: entry.source,
      releasedAt: entry.releasedAt,
    })),
  });

  /** Writes the table if it is kept on disk; a failure is logged and counted, never thrown. */
  private persist(): Promise<void> {
    if (this.stateFile === undefined) return Promise.resolve();
    return this.stateFile.save(this.snapshot).catch((err: unknown) => {
      this.counters.persistFailures++;
      this.logger.error({ err, path: this.stateFile?.path }, 'could not write the forwarder state file');
    });
  }

  /** A forwarder dies with the first hop of its route (the client's connection), or when it stops itself. */
  private readonly onWorkerStopped = (address: Address): void => {
    const own = this.slots.get(address.value);
    if (own !== undefined && own.live && own.address.equals(address)) this.release(own, 'its worker stopped');
    const dependent = this.byFirstHop.get(address.key);
    if (dependent === undefined) return;
    for (const entry of [...dependent]) {
      this.release(entry, `${address.value} (its route's first hop) stopped`);
      this.ctx.stopWorker(entry.address).catch(() => undefined);
    }
    void this.persist();
  };
}

/**
 * Sends on what it receives along the registration's route, followed by whatever came after its address.
 * The one explicit allowance of a hub: it joins the connection (or channel) a message came by with its
 * client's, both ways (`FlowControls.join`), so that the message may go out to the client and the client's
 * replies may come back. No other message from outside leaves the hub.
 */
class Forwarder implements Worker<unknown> {
  constructor(private readonly entry: Entry) {}

  handleMessage(ctx: Context, message: Routed<unknown>): Promise<void> {
    const onward = this.entry.route.concat(message.onwardRoute.stepForward());
    const origin = originOf(message);
    if (origin !== undefined) ctx.join(origin.last.producer, onward.nextOrThrow());
    // Local info (that it came from a transport) travels on, so the client's workers can refuse it.
    return ctx.forward(message.message.withRoutes(onward, message.returnRoute));
  }
}
