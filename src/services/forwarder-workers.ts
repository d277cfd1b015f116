import type { Address } from '../core/address';
import type { Route } from '../core/route';
import type { Context } from '../node/context';
import { AdmissionDeadlines } from './admission-deadlines';
import { Forwarder } from './forwarder';
import type { Entry, ForwarderTable } from './forwarder-table';

/**
 * The forwarding service's forwarder workers: starts one for a slot going live (or moves it to a new
 * route), drops slots whose worker or route's first hop (the client's connection) stopped, and drops a
 * forwarder whose admission ended (`RegistrationAdmitted`: its relay credential expired and no
 * re-registration renewed it). The table records; this starts and stops.
 */
export class ForwarderWorkers {
  /** Counted by every forwarder: messages forwarded by way of a forwarding address. */
  private readonly counts = { forwarded: 0 };
  /** Forwarders dropped because their admission ended. */
  admissionsExpired = 0;
  private readonly deadlines = new AdmissionDeadlines((address) => this.admissionEnded(address));

  constructor(
    private readonly table: ForwarderTable,
    /** The service's context (there once it is initialised). */
    private readonly ctx: () => Context,
    /** Writes the table if it is kept on disk (never throws). */
    private readonly persist: () => Promise<void>,
  ) {}

  get forwarded(): number {
    return this.counts.forwarded;
  }

  /**
   * Makes `entry` forward along `route` until `admittedUntil` (undefined: for good): starts its worker, or
   * moves it to the new route. False if the worker could not start (the slot is released).
   */
  async attach(entry: Entry, route: Route, admittedUntil: number | undefined): Promise<boolean> {
    const { logger } = this.ctx();
    if (entry.live) {
      if (!entry.route.equals(route)) {
        this.table.reroute(entry, route);
        logger.info({ forwarder: entry.address.value, route: route.toString() }, 'forwarder rerouted');
      }
    } else {
      this.table.goLive(entry, route);
      try {
        const forwarder = new Forwarder(entry, this.counts);
        await this.ctx().startWorker(entry.address, forwarder, { acceptsTransportMessages: true });
      } catch (err) {
        logger.warn({ err, address: entry.address.value }, 'could not start a forwarder');
        this.table.release(entry, 'its worker did not start');
        return false;
      }
      logger.info({ forwarder: entry.address.value, route: route.toString() }, 'forwarder registered');
    }
    this.deadlines.set(entry.address.value, admittedUntil);
    return true;
  }

  /** A forwarder dies with the first hop of its route (the client's connection), or when it stops itself. */
  readonly onWorkerStopped = (address: Address): void => {
    this.deadlines.clear(address.value);
    const own = this.table.slots.get(address.value);
    if (own !== undefined && own.live && own.address.equals(address))
      this.table.release(own, 'its worker stopped');
    const dependent = this.table.sharing(address);
    if (dependent === undefined) return;
    for (const entry of [...dependent]) {
      this.table.release(entry, `${address.value} (its route's first hop) stopped`);
      this.ctx()
        .stopWorker(entry.address)
        .catch(() => undefined);
    }
    void this.persist();
  };

  /** Stops watching deadlines (the service stops). */
  stop(): void {
    this.deadlines.clearAll();
  }

  /** A forwarder's admission ended (its relay credential expired, not renewed): it stops forwarding. */
  private admissionEnded(address: string): void {
    const entry = this.table.slots.get(address);
    if (entry === undefined || !entry.live) return;
    this.admissionsExpired++;
    this.table.release(entry, 'its admission expired');
    this.ctx().logger.warn(
      { forwarder: address, owner: entry.owner, reason: 'the credential that admitted it expired' },
      'forwarder dropped: its admission expired',
    );
    this.ctx()
      .stopWorker(entry.address)
      .catch(() => undefined);
    void this.persist();
  }
}
