const RESOLVED: Promise<void> = Promise.resolve();

/**
 * The baseline of the local benchmarks: the least a bounded mailbox can do. A power-of-two ring drained in
 * one microtask by a synchronous handler; a sender gets a resolved promise while there is room and waits on
 * its own promise when the ring is full. No addresses, routes, access rules, scheduler or timeouts, so the
 * gap to Sealroute's figure is what those cost.
 */
export class BareMailbox<T> {
  private readonly ring: (T | undefined)[];
  private readonly mask: number;
  private head = 0;
  private count = 0;
  private draining = false;
  /** Senders waiting for room, each admitting its own item. The benchmarks have one sender: a short array. */
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly capacity: number,
    private readonly handle: (item: T) => void,
  ) {
    const size = 2 ** Math.ceil(Math.log2(Math.max(capacity, 2)));
    this.ring = new Array<T | undefined>(size);
    this.mask = size - 1;
  }

  /** Queues `item`: resolved at once while there is room, else once the item is admitted. */
  offer(item: T): Promise<void> {
    if (this.count < this.capacity && this.waiting.length === 0) {
      this.push(item);
      return RESOLVED;
    }
    return new Promise<void>((resolve) =>
      this.waiting.push(() => {
        this.push(item);
        resolve();
      }),
    );
  }

  private push(item: T): void {
    this.ring[(this.head + this.count) & this.mask] = item;
    this.count++;
    if (!this.draining) {
      this.draining = true;
      queueMicrotask(this.drain);
    }
  }

  private readonly drain = (): void => {
    while (this.count > 0) {
      const item = this.ring[this.head] as T;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) & this.mask;
      this.count--;
      this.waiting.shift()?.(); // admit one waiting sender into the slot just freed
      this.handle(item);
    }
    this.draining = false;
  };
}
