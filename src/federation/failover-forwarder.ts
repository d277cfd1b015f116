import { randomInt } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { TCP } from '../core/address';
import { resolveOptions, type ResolvedOptions } from '../core/options';
import { route, type Route } from '../core/route';
import type { Identity } from '../identity/identity';
import type { Context } from '../node/context';
import { ServicesError } from '../services/errors';
import { RemoteForwarder, type RemoteForwarderOptions } from '../services/remote-forwarder';
import { formatHostPort, parseHostPort } from '../transport/tcp/host-port';
import { FederationError } from './errors';

/** How a `FailoverForwarder` behaves: a `RemoteForwarder`'s options, a name and an identity required. */
export interface FailoverForwarderOptions extends Omit<RemoteForwarderOptions, 'maxReconnectAttempts'> {
  readonly name: string;
  readonly identity: Identity;
  /** The first pause after a whole round of hubs failed; it doubles each round, with jitter. */
  readonly backoffInitialMs?: number;
  /** The longest pause between rounds. */
  readonly backoffMaxMs?: number;
  /** Shuffle the hubs (default true: clients spread over the hubs); false tries them in the given order. */
  readonly shuffle?: boolean;
  /**
   * The addresses of a hub given by name (`hubs.example.net:4000`), asked again at every round of hubs, so
   * that a change of DNS records is followed. Default: the system's resolver, every A and AAAA record.
   */
  readonly resolve?: (host: string) => Promise<readonly string[]>;
  /** How long a name may take to resolve before it is skipped this round (default 5 s). */
  readonly resolveTimeoutMs?: number;
  /**
   * How long `create` tries the hubs, round after round, before it gives up with `UNREACHABLE` (default
   * 30 s). Once registered, a lost hub is replaced for as long as the forwarder runs.
   */
  readonly registerTimeoutMs?: number;
}

/** The bounds and defaults of `FailoverForwarderOptions`' timings (milliseconds). */
const TIMING_SPECS = {
  backoffInitialMs: { default: 100, min: 1, max: 600_000 },
  backoffMaxMs: { default: 5_000, min: 1, max: 3_600_000 },
  // The system's resolver has no deadline of its own.
  resolveTimeoutMs: { default: 5_000, min: 1, max: 600_000 },
  registerTimeoutMs: { default: 30_000, min: 1, max: 3_600_000 },
} as const;

/** A `FailoverForwarder`'s timings, checked. */
type Timings = ResolvedOptions<typeof TIMING_SPECS>;

/** The defaults of `FailoverForwarderOptions`. */
export const FAILOVER_DEFAULTS: Timings = Object.freeze({
  backoffInitialMs: TIMING_SPECS.backoffInitialMs.default,
  backoffMaxMs: TIMING_SPECS.backoffMaxMs.default,
  resolveTimeoutMs: TIMING_SPECS.resolveTimeoutMs.default,
  registerTimeoutMs: TIMING_SPECS.registerTimeoutMs.default,
});

/** The most addresses of one name tried in a round (a random sample of them, if DNS gives more). */
const MAX_ADDRESSES_PER_NAME = 64;

/** Events a `FailoverForwarder` emits. */
export interface FailoverForwarderEvents {
  /** Registered at `hub` (`host:port`), as `forwardingAddress` (`fwd.n.<name>`). */
  registered: [hub: string, forwardingAddress: string];
  /** The hub was lost; the next one is being tried. */
  lost: [hub: string, reason: Error];
  /** The name can no longer be registered anywhere (bound to another identity meanwhile): stopped. */
  failed: [reason: Error];
  /** A hub given by name did not resolve this round; the others are tried. */
  unresolved: [hub: string, reason: Error];
}

/**
 * Bob's side of a federation: a bound name registered at one of several hubs of a federation (`host:port`
 * each; a host name stands for every address it resolves to, asked again at each round of hubs, so one DNS
 * name can list the federation). The list is shuffled once, so that clients spread over the hubs; when
 * the hub is lost the forwarder moves to the next one, after a jittered pause, and registers there with a
 * fresh signed claim, which takes the name's record over (compare-and-swap). Senders keep their route
 * (`[TCP, any hub] => fwd.n.<name>`): every hub of the federation re-resolves the name.
 */
export class FailoverForwarder extends EventEmitter<FailoverForwarderEvents> {
  private readonly order: string[];
  private next = 0;
  private current: { hub: string; forwarder: RemoteForwarder } | undefined;
  private stopped = false;
  private moving: Promise<void> | undefined;

  private constructor(
    private readonly ctx: Context,
    hubs: readonly string[],
    private readonly destination: Route | string,
    private readonly options: FailoverForwarderOptions,
    private readonly timings: Timings,
  ) {
    super();
    this.order = options.shuffle === false ? [...hubs] : shuffle(hubs);
  }

  /**
   * Registers `options.name`, bound to `options.identity`, at the first hub of the shuffled list that
   * takes it, leading to `destination`. Rejects with `ServicesError` `NAME_TAKEN` (bound to another
   * identity: no other hub of the federation will differ), or `FederationError` `INVALID_OPTIONS` or
   * `UNREACHABLE` (no hub took it within `registerTimeoutMs`; it then stops trying).
   */
  static async create(
    ctx: Context,
    hubs: readonly string[],
    destination: Route | string = 'listener',
    options: FailoverForwarderOptions,
  ): Promise<FailoverForwarder> {
    if (hubs.length === 0) throw new FederationError('INVALID_OPTIONS', 'give at least one hub address');
    for (const hub of hubs) {
      try {
        parseHostPort(hub);
      } catch (err) {
        throw new FederationError('INVALID_OPTIONS', (err as Error).message);
      }
    }
    const fail = (message: string): FederationError => new FederationError('INVALID_OPTIONS', message);
    const timings = resolveOptions('FailoverForwarderOptions', TIMING_SPECS, options, fail);
    if (timings.backoffMaxMs < timings.backoffInitialMs) {
      throw fail('FailoverForwarderOptions.backoffMaxMs must not be below backoffInitialMs');
    }
    const forwarder = new FailoverForwarder(ctx, hubs, destination, options, timings);
    const timeoutMs = timings.registerTimeoutMs;
    const what = `no hub of ${hubs.join(', ')} took the registration of ${options.name} in ${timeoutMs} ms`;
    try {
      await withDeadline(
        forwarder.register(false),
        timeoutMs,
        () => new FederationError('UNREACHABLE', what),
      );
    } catch (err) {
      await forwarder.stop(); // no further attempts (and a registration that lands late is undone)
      throw err;
    }
    return forwarder;
  }

  /** The hub registered at now (`host:port`), or undefined while moving. */
  get hub(): string | undefined {
    return this.current?.hub;
  }

  /** The forwarder's address on the hub: `fwd.n.<name>`, the same on every hub of the federation. */
  get forwardingAddress(): string {
    return `fwd.n.${this.options.name}`;
  }

  /** Unregisters (keeping the name bound to the identity) and stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.current?.forwarder.stop();
    this.current = undefined;
  }

  /**
   * Tries hubs in order (going on after the last one tried), round after round, with a jittered, doubling
   * pause between rounds; names are resolved again at each round.
   */
  private async register(pauseFirst: boolean): Promise<void> {
    const {
      backoffInitialMs: _a,
      backoffMaxMs: _b,
      shuffle: _c,
      resolve: _d,
      resolveTimeoutMs: _e,
      registerTimeoutMs: _f,
      ...forwarderOptions
    } = this.options;
    let delay = this.timings.backoffInitialMs;
    if (pauseFirst) await sleep(randomInt(0, delay + 1));
    for (let round = 0; !this.stopped; round++) {
      if (round > 0) {
        await sleep(delay / 2 + randomInt(0, Math.ceil(delay / 2) + 1));
        delay = Math.min(this.timings.backoffMaxMs, delay * 2);
      }
      const hubs = await this.addresses();
      for (let tried = 0; tried < hubs.length && !this.stopped; tried++) {
        const hub = hubs[this.next++ % hubs.length]!;
        if (await this.tryHub(hub, forwarderOptions)) return;
      }
    }
  }

  /** The hubs of this round: the list, each name replaced by its addresses (in random order). */
  private async addresses(): Promise<string[]> {
    const resolve = this.options.resolve ?? resolveAll;
    const out: string[] = [];
    for (const entry of this.order) {
      const { host, port } = parseHostPort(entry);
      if (isIP(host) !== 0) {
        out.push(entry);
        continue;
      }
      let found: readonly string[] = [];
      try {
        found = await withDeadline(
          resolve(host),
          this.timings.resolveTimeoutMs,
          () => new FederationError('UNRESOLVED', `${host} did not resolve in time`),
        );
      } catch (cause) {
        this.emit(
          'unresolved',
          entry,
          new FederationError('UNRESOLVED', `${host} did not resolve`, { cause }),
        );
        continue;
      }
      if (found.length === 0) {
        this.emit('unresolved', entry, new FederationError('UNRESOLVED', `${host} has no addresses`));
      }
      // Addresses only (a resolver of one's own could return anything), and a bounded sample of them.
      const sample = shuffle(found.filter((address) => isIP(address) !== 0)).slice(0, MAX_ADDRESSES_PER_NAME);
      out.push(...sample.map((address) => formatHostPort(address, port)));
    }
    return out;
  }

  /**
   * Registers at `hub`: true once registered (or stopped meanwhile), false if that failed. Rethrows a
   * refusal of the name itself: a name bound to another identity is so at every hub of the federation.
   */
  private async tryHub(hub: string, forwarderOptions: RemoteForwarderOptions): Promise<boolean> {
    let forwarder: RemoteForwarder;
    try {
      forwarder = await RemoteForwarder.create(this.ctx, route([TCP, hub]), this.destination, {
        ...forwarderOptions,
        maxReconnectAttempts: 1,
      });
    } catch (err) {
      if (err instanceof ServicesError && (err.code === 'NAME_TAKEN' || err.code === 'INVALID_NAME'))
        throw err;
      return false;
    }
    if (this.stopped) {
      await forwarder.stop();
      return true;
    }
    this.current = { hub, forwarder };
    forwarder.once('lost', (reason) => this.onLost(hub, forwarder, reason));
    this.emit('registered', hub, forwarder.forwardingAddress);
    return true;
  }

  private onLost(hub: string, forwarder: RemoteForwarder, reason: Error): void {
    if (this.stopped || this.current?.forwarder !== forwarder) return;
    this.current = undefined;
    this.emit('lost', hub, reason);
    void forwarder.stop();
    this.moving ??= this.register(true)
      .catch((err: unknown) => {
        this.stopped = true;
        this.emit('failed', err as Error);
      })
      .finally(() => (this.moving = undefined));
  }
}

function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(0, i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** `promise`, or a rejection with `late()` after `ms`. */
async function withDeadline<T>(promise: Promise<T>, ms: number, late: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every address of `host` the system's resolver knows (A and AAAA records, /etc/hosts). */
async function resolveAll(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((found) => found.address);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
