import { RingQueue } from './ring-queue';

/** Why a deadline fired: its time came, or everything was flushed (the node stopped). */
export type DeadlineCause = 'timeout' | 'flushed';

/** A pending deadline; `cancel()` is O(1). */
export class Deadline {
  constructor(
    private readonly owner: Deadlines,
    readonly at: number,
    /** Cleared once fired or cancelled. */
    public fire: ((cause: DeadlineCause) => void) | undefined,
  ) {}

  cancel(): void {
    if (this.fire === undefined) return;
    this.fire = undefined;
    this.owner.settled();
  }
}

/**
 * Many timeouts on one timer. Each request sets and cancels a timeout; a Node.js timer per request costs
 * more than the rest of a local round trip. Entries with the same duration expire in the order they were
 * added, so each duration keeps a FIFO and only heads are looked at; cancelled heads are dropped as new
 * entries arrive, so a steady stream of requests keeps the queues short.
 */
export class Deadlines {
  private readonly queues = new Map<number, RingQueue<Deadline>>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private live = 0;

  /** Calls `fire('timeout')` after `ms` milliseconds unless cancelled first. */
  add(ms: number, fire: (cause: DeadlineCause) => void): Deadline {
    const entry = new Deadline(this, performance.now() + ms, fire);
    let queue = this.queues.get(ms);
    if (queue === undefined) this.queues.set(ms, (queue = new RingQueue<Deadline>()));
    while (queue.peek()?.fire === undefined && !queue.isEmpty) queue.shift();
    queue.push(entry);
    if (this.live++ === 0) this.timer?.ref();
    if (entry.at < this.timerAt) this.arm(entry.at);
    return entry;
  }

  /** @internal An entry was cancelled. */
  settled(): void {
    // With nothing pending the timer must not keep the process alive until a stale deadline.
    if (--this.live === 0) this.timer?.unref();
  }

  /** Fires every pending entry with `flushed` (the node is stopping) and releases the timer. */
  flush(): void {
    const queues = [...this.queues.values()];
    this.queues.clear();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    for (const queue of queues) queue.drain((entry) => this.fire(entry, 'flushed'));
  }

  private fire(entry: Deadline, cause: DeadlineCause): void {
    const fire = entry.fire;
    if (fire === undefined) return;
    entry.fire = undefined;
    this.live--;
    fire(cause);
  }

  private arm(at: number): void {
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.expire, Math.max(0, at - performance.now()));
    if (this.live === 0) this.timer.unref();
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const [ms, queue] of this.queues) {
      let head: Deadline | undefined;
      while ((head = queue.peek()) !== undefined && (head.fire === undefined || head.at <= now)) {
        queue.shift();
        this.fire(head, 'timeout');
      }
      if (head === undefined) this.queues.delete(ms);
      else next = Math.min(next, head.at);
    }
    if (next !== Infinity) this.arm(next);
  };
}
