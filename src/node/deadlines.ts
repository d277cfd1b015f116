import { RingQueue } from './ring-queue';

/** Why a deadline fired: its time came, or everything was flushed (the node stopped). */
export type DeadlineCause = 'timeout' | 'flushed';

/**
 * Something with a deadline in `Deadlines`: a `Deadline` (a callback), or an object that is its own entry
 * (a request's reply slot), which saves the entry and the closure per request.
 */
export abstract class Timed {
  /** @internal When it expires, on the `performance.now()` clock. */
  at = 0;
  /** @internal Whose entry it is while pending; undefined once fired, cancelled, or before it is added. */
  owner: Deadlines | undefined = undefined;

  /** Called once, when its time comes (`timeout`) or the node stops first (`flushed`). */
  protected abstract expired(cause: DeadlineCause): void;

  /** Whether it is still pending (neither fired nor cancelled). */
  get isPending(): boolean {
    return this.owner !== undefined;
  }

  /** Cancels it if still pending; O(1). */
  cancel(): void {
    const owner = this.owner;
    if (owner === undefined) return;
    this.owner = undefined;
    owner.settled();
  }

  /** @internal Fires it if still pending. */
  fire(cause: DeadlineCause): void {
    if (this.owner === undefined) return;
    this.owner = undefined;
    this.expired(cause);
  }
}

/** A pending deadline made by `Deadlines.add`; `cancel()` is O(1). */
export class Deadline extends Timed {
  constructor(private readonly onExpired: (cause: DeadlineCause) => void) {
    super();
  }

  protected expired(cause: DeadlineCause): void {
    this.onExpired(cause);
  }
}

/**
 * Many timeouts on one timer. Each request sets and cancels a timeout; a Node.js timer per request costs
 * more than the rest of a local round trip. Entries with the same duration expire in the order they were
 * added, so each duration keeps a FIFO and only heads are looked at; cancelled heads are dropped as new
 * entries arrive, so a steady stream of requests keeps the queues short.
 */
export class Deadlines {
  private readonly queues = new Map<number, RingQueue<Timed>>();
  /** The queue of the last duration added: requests mostly share one, so the map is skipped. */
  private lastMs = -1;
  private lastQueue: RingQueue<Timed> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private live = 0;
  /** Whether the timer keeps the process alive (only while something is pending, give or take a turn). */
  private refed = false;
  /** An `unrefIfIdle` is scheduled. */
  private idleCheck = false;
  /** `performance.now()` as `now()` last read it, and whether this turn of the event loop has read it. */
  private clock = 0;
  private clockFresh = false;

  /** Calls `fire('timeout')` after `ms` milliseconds unless cancelled first. */
  add(ms: number, fire: (cause: DeadlineCause) => void): Deadline {
    const entry = new Deadline(fire);
    this.track(ms, entry);
    return entry;
  }

  /** Makes `entry` (not pending) expire after `ms` milliseconds unless cancelled first. */
  track(ms: number, entry: Timed): void {
    entry.at = this.now() + ms;
    entry.owner = this;
    let queue = this.lastQueue;
    if (ms !== this.lastMs || queue === undefined) {
      queue = this.queues.get(ms);
      if (queue === undefined) this.queues.set(ms, (queue = new RingQueue<Timed>()));
      this.lastMs = ms;
      this.lastQueue = queue;
    }
    let head: Timed | undefined;
    while ((head = queue.peek()) !== undefined && head.owner === undefined) queue.shift();
    queue.push(entry);
    this.live++;
    if (entry.at < this.timerAt) this.arm(entry.at);
    else if (!this.refed) this.ref();
  }

  /**
   * The clock deadlines start from: read at its first use in a turn of the event loop and kept until the
   * next check phase (a setImmediate), as Node's own timers start from the loop's time, not the call's. A
   * deadline may so start earlier than its call by the work done since that read, never by a wait: the
   * pending setImmediate keeps the loop from blocking for I/O before the clock is read again. A run of
   * requests costs one clock read and one setImmediate per turn instead of a clock read each (~80 ns).
   */
  private now(): number {
    if (!this.clockFresh) {
      this.clock = performance.now();
      this.clockFresh = true;
      setImmediate(this.clockStale);
    }
    return this.clock;
  }

  private readonly clockStale = (): void => {
    this.clockFresh = false;
  };

  /** @internal An entry was cancelled. */
  settled(): void {
    // With nothing pending the timer must not keep the process alive until a stale deadline. Requests
    // that follow each other take the count from 0 to 1 and back each time: the timer is unreferenced
    // once the turn of the event loop is over, not at each request (two calls into libuv each).
    if (--this.live === 0 && this.refed && !this.idleCheck) {
      this.idleCheck = true;
      setImmediate(this.unrefIfIdle);
    }
  }

  private ref(): void {
    if (this.timer === undefined) return;
    this.timer.ref();
    this.refed = true;
  }

  private readonly unrefIfIdle = (): void => {
    this.idleCheck = false;
    if (this.live === 0 && this.refed) {
      this.timer?.unref();
      this.refed = false;
    }
  };

  /** Fires every pending entry with `flushed` (the node is stopping) and releases the timer. */
  flush(): void {
    const queues = [...this.queues.values()];
    this.queues.clear();
    this.lastMs = -1;
    this.lastQueue = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    this.refed = false;
    for (const queue of queues) queue.drain((entry) => this.fire(entry, 'flushed'));
  }

  private fire(entry: Timed, cause: DeadlineCause): void {
    if (entry.owner === undefined) return;
    this.live--;
    entry.fire(cause);
  }

  private arm(at: number): void {
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.expire, Math.max(0, at - performance.now()));
    this.refed = this.live > 0;
    if (!this.refed) this.timer.unref();
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    this.refed = false;
    const now = performance.now();
    let next = Infinity;
    for (const [ms, queue] of this.queues) {
      let head: Timed | undefined;
      while ((head = queue.peek()) !== undefined && (head.owner === undefined || head.at <= now)) {
        queue.shift();
        this.fire(head, 'timeout');
      }
      if (head === undefined) {
        this.queues.delete(ms);
        if (queue === this.lastQueue) {
          this.lastMs = -1;
          this.lastQueue = undefined;
        }
      } else next = Math.min(next, head.at);
    }
    if (next !== Infinity) this.arm(next);
  };
}
