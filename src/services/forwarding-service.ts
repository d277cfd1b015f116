import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Address } from '../core/address';
import type { Routed } from '../core/message';
import type { Route } from '../core/route';
import type { Context } from '../node/context';
import type { Logger } from '../node/logger';
import type { Worker } from '../node/worker';
import {
  FORWARDER_NAME,
  forwardingRequestCodec,
  type ForwardingReply,
  type ForwardingRequest,
  type PingRequest,
  type RegisterRequest,
  type UnregisterRequest,
} from './forwarding-messages';

/** How a forwarding service behaves. Every field has a default (`FORWARDING_DEFAULTS`). */
export interface ForwardingServiceOptions {
  /** Forwarders the hub holds at once. */
  readonly maxForwarders?: number;
  /** Forwarders that share a route's first hop (one client connection) at once. */
  readonly maxForwardersPerConnection?: number;
  /**
   * How long a name stays reserved for the holder of its token after its forwarder went away (its
   * connection dropped), so that the owner can reconnect and take it back before anyone else can.
   */
  readonly nameReservationMs?: number;
}

/** The defaults of every `ForwardingServiceOptions` field. */
export const FORWARDING_DEFAULTS: Required<ForwardingServiceOptions> = Object.freeze({
  maxForwarders: 10_000,
  maxForwardersPerConnection: 16,
  nameReservationMs: 3_600_000,
});

/** A forwarder the service made, as `forwarders()` lists it. */
export interface ForwarderInfo {
  /** Its local address on the hub (`fwd.<hex>` or `fwd.<name>`). */
  readonly address: Address;
  readonly name: string | undefined;
  /** Where it sends what it receives: the registration's return route. */
  readonly route: Route;
}

interface Entry {
  readonly address: Address;
  readonly name: string | undefined;
  route: Route;
  readonly token: string;
}

interface NameRecord {
  readonly token: string;
  holder: Entry | undefined;
  /** When its forwarder went away (for the reservation's expiry); 0 while held. */
  releasedAt: number;
}

/** Address prefix of forwarders. */
const PREFIX = 'fwd.';

function newToken(): string {
  return randomBytes(16).toString('hex');
}

function sameToken(expected: string, given: string | undefined): boolean {
  if (given === undefined || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(expected), Buffer.from(given));
}

/**
 * A forwarding service for a hub: a client behind the hub (a node that can connect out but not be
 * reached) registers, and the service starts a forwarder at an unguessable address (`fwd.<32 hex>`) or at
 * a name (`fwd.<name>`). A message to `[TCP, hub] => forwarder` is sent on along the registration's return
 * route, over the client's own connection, to its `RemoteForwarder`; `[TCP, hub] => forwarder => more` goes
 * on to `more` on the client's node. A forwarder dies with the first hop of its route (the connection
 * worker): the service watches the node's `workerStopped`, so it works the same for any transport.
 *
 * Named forwarders cannot be hijacked: the first registration of a name gets a random token, and taking
 * the name again (after a reconnect) requires it, for as long as the name is held or reserved.
 */
export class ForwardingService implements Worker<ForwardingRequest> {
  private readonly options: Required<ForwardingServiceOptions>;
  private readonly entries = new Map<string, Entry>();
  private readonly byFirstHop = new Map<string, Set<Entry>>();
  private readonly names = new Map<string, NameRecord>();
  private ctx!: Context;
  private logger!: Logger;

  private constructor(options: ForwardingServiceOptions) {
    this.options = { ...FORWARDING_DEFAULTS, ...options };
  }

  /** Starts a forwarding service at `address` (a worker that accepts messages from transports). */
  static async start(
    ctx: Context,
    address: string | Address = 'forwarding_service',
    options: ForwardingServiceOptions = {},
  ): Promise<ForwardingService> {
    const service = new ForwardingService(options);
    await ctx.startWorker(address, service, {
      message: forwardingRequestCodec,
      acceptsTransportMessages: true,
    });
    return service;
  }

  /** The service's address. */
  get address(): Address {
    return this.ctx.address;
  }

  /** The live forwarders. */
  forwarders(): ForwarderInfo[] {
    return [...this.entries.values()].map(({ address, name, route }) => ({ address, name, route }));
  }

  /** Stops the service and every forwarder it started. */
  stop(): Promise<void> {
    return this.ctx.stopWorker(this.ctx.address);
  }

  // --- the worker --------------------------------------------------------------------------------------

  initialize(ctx: Context): void {
    this.ctx = ctx;
    this.logger = ctx.logger;
    ctx.node.on('workerStopped', this.onWorkerStopped);
  }

  async handleMessage(ctx: Context, message: Routed<ForwardingRequest>): Promise<void> {
    if (message.returnRoute.isEmpty) return; // nowhere to answer, nowhere to forward to
    const request = message.body;
    let reply: ForwardingReply;
    switch (request.type) {
      case 'register':
        reply = await this.register(message.returnRoute, request);
        break;
      case 'ping':
        reply = this.ping(message.returnRoute, request);
        break;
      case 'unregister':
        reply = await this.unregister(request);
        break;
    }
    await ctx.send(message.returnRoute, reply);
  }

  async shutdown(ctx: Context): Promise<void> {
    ctx.node.off('workerStopped', this.onWorkerStopped);
    const entries = [...this.entries.values()];
    this.entries.clear();
    this.byFirstHop.clear();
    await Promise.all(entries.map((entry) => ctx.stopWorker(entry.address).catch(() => undefined)));
  }

  // --- requests ----------------------------------------------------------------------------------------

  private async register(returnRoute: Route, request: RegisterRequest): Promise<ForwardingReply> {
    const { nonce, name } = request;
    let record: NameRecord | undefined;
    if (name !== undefined) {
      if (!FORWARDER_NAME.test(name)) {
        return { type: 'refused', nonce, code: 'INVALID_NAME', reason: 'names are 1..64 of A-Z a-z 0-9 _ -' };
      }
      record = this.nameRecord(name);
      if (record !== undefined) {
        if (!sameToken(record.token, request.token)) {
          this.logger.warn({ name }, 'refused a registration of a name held by another client');
          return { type: 'refused', nonce, code: 'NAME_TAKEN', reason: `the name ${name} is taken` };
        }
        if (record.holder !== undefined) {
          // The owner is back (typically over a new connection before the old one was noticed dead).
          this.reroute(record.holder, returnRoute);
          return { type: 'registered', nonce, address: record.holder.address.value, token: record.token };
        }
      }
    }
    if (name === undefined && request.address !== undefined) {
      // The client lost track of its forwarder (a heartbeat timed out) but it is still here: keep it.
      const previous = this.entries.get(Address.local(request.address).key);
      if (previous !== undefined && previous.name === undefined && sameToken(previous.token, request.token)) {
        this.reroute(previous, returnRoute);
        return { type: 'registered', nonce, address: previous.address.value, token: previous.token };
      }
    }
    const refusal = this.checkLimits(returnRoute, name !== undefined && record === undefined);
    if (refusal !== undefined) return { type: 'refused', nonce, code: 'LIMIT_REACHED', reason: refusal };

    const token = record?.token ?? newToken();
    const entry: Entry = {
      address: Address.local(PREFIX + (name ?? randomBytes(16).toString('hex'))),
      name,
      route: returnRoute,
      token,
    };
    try {
      await this.ctx.startWorker(entry.address, new Forwarder(entry), { acceptsTransportMessages: true });
    } catch (err) {
      this.logger.warn({ err, address: entry.address.value }, 'could not start a forwarder');
      return { type: 'refused', nonce, code: 'NAME_TAKEN', reason: `${entry.address.value} is in use` };
    }
    this.entries.set(entry.address.key, entry);
    this.index(entry);
    if (name !== undefined) {
      if (record === undefined) this.names.set(name, { token, holder: entry, releasedAt: 0 });
      else record.holder = entry;
    }
    this.logger.info(
      { forwarder: entry.address.value, route: returnRoute.toString() },
      'forwarder registered',
    );
    return { type: 'registered', nonce, address: entry.address.value, token };
  }

  private ping(returnRoute: Route, request: PingRequest): ForwardingReply {
    const entry = this.entries.get(Address.local(request.address).key);
    // Alive only if it still forwards along the route the ping came by: after a reconnect it does not.
    return { type: 'pong', nonce: request.nonce, alive: entry?.route.equals(returnRoute) ?? false };
  }

  private async unregister(request: UnregisterRequest): Promise<ForwardingReply> {
    const entry = this.entries.get(Address.local(request.address).key);
    if (entry === undefined || !sameToken(entry.token, request.token)) {
      return { type: 'refused', nonce: request.nonce, code: 'NOT_FOUND', reason: 'no such forwarder' };
    }
    if (entry.name !== undefined) this.names.delete(entry.name);
    this.remove(entry, 'unregistered by its owner');
    await this.ctx.stopWorker(entry.address).catch(() => undefined);
    return { type: 'unregistered', nonce: request.nonce };
  }

  // --- bookkeeping -------------------------------------------------------------------------------------

  /** The record of a held or reserved name; an expired reservation is dropped. */
  private nameRecord(name: string): NameRecord | undefined {
    const record = this.names.get(name);
    if (record === undefined || record.holder !== undefined) return record;
    if (Date.now() - record.releasedAt < this.options.nameReservationMs) return record;
    this.names.delete(name);
    return undefined;
  }

  private checkLimits(route: Route, newName: boolean): string | undefined {
    if (this.entries.size >= this.options.maxForwarders) {
      return `the hub holds its maximum of ${this.options.maxForwarders} forwarders`;
    }
    const sharing = this.byFirstHop.get(route.next!.key)?.size ?? 0;
    if (sharing >= this.options.maxForwardersPerConnection) {
      return `this connection holds its maximum of ${this.options.maxForwardersPerConnection} forwarders`;
    }
    if (newName && this.names.size >= this.options.maxForwarders) {
      for (const name of [...this.names.keys()]) this.nameRecord(name); // drop expired reservations
      if (this.names.size >= this.options.maxForwarders) return 'the hub holds its maximum of reserved names';
    }
    return undefined;
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

  private reroute(entry: Entry, route: Route): void {
    if (entry.route.equals(route)) return;
    this.unindex(entry);
    entry.route = route;
    this.index(entry);
    this.logger.info({ forwarder: entry.address.value, route: route.toString() }, 'forwarder rerouted');
  }

  /** Forgets a forwarder (its worker is stopped by the caller, or has stopped). */
  private remove(entry: Entry, why: string): void {
    if (this.entries.get(entry.address.key) !== entry) return;
    this.entries.delete(entry.address.key);
    this.unindex(entry);
    if (entry.name !== undefined) {
      const record = this.names.get(entry.name);
      if (record?.holder === entry) {
        record.holder = undefined;
        record.releasedAt = Date.now();
      }
    }
    this.logger.info({ forwarder: entry.address.value }, `forwarder removed: ${why}`);
  }

  /** A forwarder dies with the first hop of its route (the client's connection), or when it stops itself. */
  private readonly onWorkerStopped = (address: Address): void => {
    const own = this.entries.get(address.key);
    if (own !== undefined) this.remove(own, 'its worker stopped');
    const dependent = this.byFirstHop.get(address.key);
    if (dependent === undefined) return;
    for (const entry of [...dependent]) {
      this.remove(entry, `${address.value} (its route's first hop) stopped`);
      this.ctx.stopWorker(entry.address).catch(() => undefined);
    }
  };
}

/** Sends on what it receives along the registration's route, followed by whatever came after its address. */
class Forwarder implements Worker<unknown> {
  constructor(private readonly entry: Entry) {}

  handleMessage(ctx: Context, message: Routed<unknown>): Promise<void> {
    const onward = this.entry.route.concat(message.onwardRoute.stepForward());
    // Local info (that it came from a transport) travels on, so the client's workers can refuse it.
    return ctx.forward(message.message.withRoutes(onward, message.returnRoute));
  }
}
