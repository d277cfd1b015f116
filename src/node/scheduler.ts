import { RingQueue } from './ring-queue';

const RESOLVED = Promise.resolve();

/** Something the scheduler can give a turn: a worker with queued messages. */
export interface Runnable {
  /** Processes up to `budget` messages and returns how many it processed. */
  runTurn(budget: number): number;
}

/** How a scheduler shares the thread. */
export interface SchedulerOptions {
  /** Messages one worker may process before the next ready worker gets a turn. */
  readonly turnBudget?: number;
  /** Messages processed (across workers) before the scheduler yields to I/O with setImmediate. */
  readonly yieldBudget?: number;
  /**
   * `'inline'` runs a worker's turn at once, on the sender's stack: a send returns after its message, and
   * every message that one set off on this node, has been handled (handlers that await still finish
   * later). For deterministic tests only: it never yields to I/O. Default `'scheduled'`.
   */
  readonly dispatcher?: 'scheduled' | 'inline';
}

/**
 * Runs ready workers round robin on the event loop. A ready worker gets a turn of at most `turnBudget`
 * messages, then goes to the back of the line, so one busy worker cannot starve others; after `yieldBudget`
 * messages the scheduler continues in a macrotask (setImmediate) so sockets and timers run too.
 * Work scheduled while the scheduler is idle starts in a microtask: a message sent and handled locally never
 * waits for the event loop.
 */
export class Scheduler {
  private readonly ready = new RingQueue<Runnable>(256);
  private draining = false;
  private pending = false;
  private sinceYield = 0;
  private readonly turnBudget: number;
  private readonly yieldBudget: number;
  private readonly inline: boolean;

  constructor(options: SchedulerOptions = {}) {
    this.turnBudget = options.turnBudget ?? 64;
    this.yieldBudget = options.yieldBudget ?? 8192;
    this.inline = options.dispatcher === 'inline';
  }

  /** Puts a worker in line for a turn. The caller makes sure a worker is in line at most once. */
  schedule(runnable: Runnable): void {
    this.ready.push(runnable);
    if (this.inline) {
      // Nested sends (a handler sending on) join the line of the drain already running below.
      if (!this.draining) this.drainInline();
      return;
    }
    if (!this.draining && !this.pending) {
      this.pending = true;
      if (this.sinceYield >= this.yieldBudget) setImmediate(this.resume);
      else void RESOLVED.then(this.drain); // cheaper than queueMicrotask, measured
    }
  }

  /**
   * `schedule`, for a caller that runs in a microtask of its own, never on a sender's stack (a worker whose
   * asynchronous handler just settled): if nothing else is in line and the yield budget has room, the line
   * is drained now instead of in one more microtask, as the drain would have found it.
   */
  scheduleFromMicrotask(runnable: Runnable): void {
    if (this.inline || this.draining || this.pending || this.sinceYield >= this.yieldBudget) {
      this.schedule(runnable);
      return;
    }
    this.ready.push(runnable);
    this.drain();
  }

  private drainInline(): void {
    this.draining = true;
    try {
      let runnable: Runnable | undefined;
      while ((runnable = this.ready.shift()) !== undefined) runnable.runTurn(this.turnBudget);
    } finally {
      this.draining = false;
    }
  }

  private readonly resume = (): void => {
    this.sinceYield = 0;
    this.drain();
  };

  private readonly drain = (): void => {
    this.pending = false;
    this.draining = true;
    try {
      let runnable: Runnable | undefined;
      while ((runnable = this.ready.shift()) !== undefined) {
        this.sinceYield += runnable.runTurn(this.turnBudget);
        if (this.sinceYield >= this.yieldBudget && !this.ready.isEmpty) {
          this.pending = true;
          setImmediate(this.resume);
          break;
        }
      }
    } finally {
      this.draining = false;
    }
  };
}
