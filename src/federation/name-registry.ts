import { Address } from '../core/address';
import { TRANSPORT_INFO, originOf, type Routed } from '../core/message';
import type { Context } from '../node/context';
import type { Worker } from '../node/worker';
import type { RegistrationRefusal } from '../services/forwarding-service';
import { NAMED_PREFIX, type NameClaim } from '../services/forwarding-messages';
import type { Vault } from '../vault/vault';
import type { FederationTransportInfo } from './federation-options';
import type { FederationShared } from './federation-shared';
import type { HubLinks } from './hub-link';
import type { Leases, RemoteRoute } from './leases';
import { encodeRecord, verifyRecord, type NameRecord } from './name-record';
import { NameConflict, NameStoreUnavailable, type NameEntry, type NameStore } from './nats-bus';

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
 * The names of a federation, in its JetStream key-value bucket: this hub claims a bound name with `create`,
 * or takes it over with compare-and-swap on the revision, so that of hubs racing for a name exactly one wins;
 * it watches the bucket and keeps, for each verified record of a name on another hub, a route, and its
 * relay worker takes `fwd.n.<name>` to send what comes there to that hub's link. Records that do not verify
 * are ignored (and this hub's own put back); a record of an earlier epoch of this hub is stale.
 */
export class NameRegistry {
  /** Names whose record is this hub's: the revision written and the record, to put back if overwritten. */
  private readonly own = new Map<string, { revision: number; bytes: Uint8Array }>();
  private readonly routes = new Map<string, RemoteRoute>();
  /** The worker that relays for every remote name, each at its `fwd.n.<name>` (see `watch`). */
  private relays: Context | undefined;
  /** Names whose `fwd.n.<name>` the relay worker has taken. */
  private readonly relayed = new Set<string>();
  private readonly resolving = new Map<string, number>();
  private records: Promise<void> = Promise.resolve();
  private kvInFlight = 0;
  private readonly kvWaiting: (() => void)[] = [];
  private watcher: { stop(): void } | undefined;

  constructor(
    private readonly shared: FederationShared,
    private readonly store: NameStore,
    private readonly vault: Vault,
    private readonly leases: Leases,
    private readonly links: HubLinks,
  ) {}

  /** Names on other hubs this hub routes to, and names whose record is this hub's. */
  get sizes(): { remote: number; local: number } {
    return { remote: this.routes.size, local: this.own.size };
  }

  /** The hub a name's record points to, as this hub sees it now (this hub's own name for its own). */
  whereIs(name: string): string | undefined {
    if (this.own.has(name)) return this.shared.hub;
    return this.routes.get(name)?.hub;
  }

  /**
   * Starts the worker that relays for remote names, then follows the bucket: every record, then every
   * change, applied one at a time in order.
   */
  async watch(): Promise<void> {
    // One worker, at one more address per remote name, rather than one worker each: a hub of a federation
    // routes to every name the other hubs hold. Sharing its mailbox costs no isolation worth a worker per
    // name: every frame it relays leaves by the same NATS connection anyway.
    const relay: Worker<unknown> = {
      handleMessage: (ctx, message) =>
        this.relay(ctx, message.address.value.slice(NAMED_PREFIX.length), message),
    };
    this.relays = await this.shared.ctx.startWorker(`fed.r.${this.shared.hub}`, relay, {
      acceptsTransportMessages: true,
    });
    this.watcher = await this.store.watch((entry) => {
      this.records = this.records
        .then(() => this.onRecord(entry))
        .catch((err: unknown) => {
          this.shared.logger.error({ err, name: entry.key }, 'could not apply a name record');
        });
    });
  }

  /** Stops the watch, once the records already received are applied; returns its worker's address. */
  async stop(): Promise<Address[]> {
    this.watcher?.stop();
    await this.records.catch(() => undefined);
    return this.relays === undefined ? [] : [this.relays.address];
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
      hub: this.shared.hub,
      instance: claim.instance,
      epoch: this.shared.epoch,
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
    const deadline = Date.now() + this.shared.settings.claimTimeoutMs;
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
        if (err instanceof NameStoreUnavailable && Date.now() + pause < deadline && !this.shared.stopped) {
          this.shared.warnings.warn(
            { err, name },
            'the bucket of names does not answer; the claim tries again',
          );
          await new Promise((resolve) => setTimeout(resolve, pause));
          pause = Math.min(pause * 2, 400);
          continue;
        }
        this.shared.logger.warn({ err, name }, 'the federation could not claim a name');
        return { code: 'LIMIT_REACHED', reason: 'the federation of hubs cannot record names now' };
      }
      const known = this.own.get(name);
      if (known === undefined || known.revision < revision) this.own.set(name, { revision, bytes });
      this.routes.delete(name);
      this.unrelay(name);
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

  private forged(name: string, problem: string): void {
    this.shared.counters.forgedRecords++;
    this.shared.warnings.warn({ name, problem }, 'ignored a name record that does not verify');
  }

  /** Applies a change of the bucket (in order: one at a time). */
  async onRecord(entry: NameEntry): Promise<void> {
    if (this.shared.stopped) return;
    const { key: name } = entry;
    const own = this.own.get(name);
    if (own !== undefined && entry.revision <= own.revision) return; // our write, or older
    const route = this.routes.get(name);
    if (route !== undefined && entry.revision <= route.revision) return;
    if (entry.value === undefined) {
      this.own.delete(name);
      this.routes.delete(name);
      this.unrelay(name);
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
          this.shared.warnings.warn({ err, name }, 'could not restore a name record');
        }
      }
      return;
    }
    const record = checked.record;
    if (record.hub === this.shared.hub) {
      // A record of this hub in an earlier life: stale, until its owner registers here again.
      if (record.instance !== this.shared.instance || record.epoch !== this.shared.epoch)
        this.routes.delete(name);
      return;
    }
    if (own !== undefined) {
      // Its owner registered at another hub (the record is signed by the owner): its forwarder here goes.
      this.own.delete(name);
      // The service sees its forwarder stop and keeps the name reserved for its owner, should it come back.
      await this.shared.ctx.stopWorker(NAMED_PREFIX + name).catch(() => undefined);
    }
    if (route === undefined && this.routes.size >= this.shared.settings.maxRemoteNames) {
      this.shared.warnings.warn(
        { name },
        `this hub routes to its maximum of ${this.shared.settings.maxRemoteNames} remote names`,
      );
      return;
    }
    this.routes.set(name, {
      hub: record.hub,
      instance: record.instance,
      epoch: record.epoch,
      revision: entry.revision,
    });
    this.relayTo(name);
  }

  /** The relay worker takes `fwd.n.<name>` (if it has not already). */
  private relayTo(name: string): void {
    if (this.relayed.has(name) || this.relays === undefined) return;
    try {
      this.relays.addAddress(NAMED_PREFIX + name);
      this.relayed.add(name);
    } catch (err) {
      this.shared.warnings.warn({ err, name }, 'could not start the route to a remote name');
    }
  }

  /** The relay worker gives `fwd.n.<name>` up (if it had it). */
  private unrelay(name: string): void {
    if (this.relayed.delete(name)) this.relays?.removeAddress(NAMED_PREFIX + name);
  }

  /** Reads a name's record again (at most once per lease period per name), for a route that is not live. */
  private resolveAgain(name: string): void {
    const now = Date.now();
    if (now - (this.resolving.get(name) ?? 0) < this.shared.settings.heartbeatMs) return;
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

  /** A frame for a name on another hub: on to that hub's link, or counted as lost. */
  private relay(ctx: Context, name: string, message: Routed<unknown>): Promise<unknown> | void {
    const info = message.localInfo[TRANSPORT_INFO] as Partial<FederationTransportInfo> | undefined;
    if (info?.hub !== undefined) {
      this.shared.counters.lost.transit++;
      return this.shared.drop(message, `${NO_TRANSIT} (from ${info.hub}, for ${name})`, 'NO_ROUTE');
    }
    const route = this.routes.get(name);
    if (route === undefined || !this.leases.alive(route)) {
      this.shared.counters.lost.unroutable++;
      this.resolveAgain(name);
      const where = route === undefined ? 'no hub' : `hub ${route.hub}, whose lease is not live`;
      return this.shared.drop(message, `the name ${name} is at ${where}`, 'UNREACHABLE');
    }
    const link = this.links.to(route.hub);
    const origin = originOf(message);
    if (origin !== undefined) ctx.join(origin.last.producer, link.address);
    return ctx
      .forward(message.message.withRoutes(message.onwardRoute.prepend(link.address), message.returnRoute))
      .then(() => undefined);
  }
}
