import { MAX_TIMER_MS } from '../core/options';

/**
 * Forwarders admitted only until a time (a hub that admits by credential: until the credential expires),
 * by address: when a forwarder's time comes and no re-registration moved it (a renewed credential does),
 * `onExpiry` is called to drop it. Timers do not hold the process open.
 */
export class AdmissionDeadlines {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly onExpiry: (address: string) => void) {}

  /** The forwarder at `address` is admitted until `until` (ms since the epoch), or for good (undefined). */
  set(address: string, until: number | undefined): void {
    this.clear(address);
    if (until === undefined) return;
    // Node's timers take at most MAX_TIMER_MS; a later deadline is looked at again then.
    const timer = setTimeout(
      () => {
        this.timers.delete(address);
        if (Date.now() < until) this.set(address, until);
        else this.onExpiry(address);
      },
      Math.min(Math.max(0, until - Date.now()), MAX_TIMER_MS),
    );
    timer.unref();
    this.timers.set(address, timer);
  }

  /** Forgets the deadline of `address` (its forwarder went away for another reason). */
  clear(address: string): void {
    clearTimeout(this.timers.get(address));
    this.timers.delete(address);
  }

  /** Forgets every deadline (the service stops). */
  clearAll(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
