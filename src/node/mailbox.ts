import type { LocalMessage } from '../core/message';
import { NodeError } from './errors';
import { RingQueue } from './ring-queue';

interface Waiter {
  readonly message: LocalMessage;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * A bounded FIFO of messages for one worker. While it has room, `offer` enqueues synchronously and returns
 * undefined; when it is full the sender gets a promise that resolves once its message is admitted, in
 * order, or rejects with `NodeError` `MAILBOX_FULL` after `sendTimeoutMs`. So a fast producer waits instead
 * of growing memory without limit.
 */
export class Mailbox {
  private readonly queue = new RingQueue<LocalMessage>();
  private readonly waiters = new RingQueue<Waiter>();

  constructor(
    readonly owner: string,
    readonly capacity: number,
    private readonly sendTimeoutMs: number,
  ) {}

  get length(): number {
    return this.queue.length;
  }

  /** Senders waiting for room. */
  get waiting(): number {
    return this.waiters.length;
  }

  offer(message: LocalMessage): Promise<void> | undefined {
    if (this.queue.length < this.capacity && this.waiters.isEmpty) {
      this.queue.push(message);
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { message, resolve, reject, timer: undefined };
      waiter.timer = setTimeout(() => {
        waiter.timer = undefined;
        this.dropExpired();
        reject(
          new NodeError(
            'MAILBOX_FULL',
            `mailbox of ${this.owner} stayed full (${this.capacity} messages) for ${this.sendTimeoutMs} ms`,
          ),
        );
      }, this.sendTimeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next message, admitting one waiting sender into the room it leaves. */
  take(): LocalMessage | undefined {
    const message = this.queue.shift();
    if (message !== undefined && !this.waiters.isEmpty) this.admit();
    return message;
  }

  /**
   * Forgets timed-out senders (and their messages) at once, so that senders retrying against a stuck
   * worker do not pile up. Every sender waits the same `sendTimeoutMs`, so they time out in line order and
   * the expired ones are always at the head.
   */
  private dropExpired(): void {
    while (!this.waiters.isEmpty && this.waiters.peek()!.timer === undefined) this.waiters.shift();
  }

  private admit(): void {
    let waiter: Waiter | undefined;
    while ((waiter = this.waiters.shift()) !== undefined) {
      if (waiter.timer === undefined) continue; // timed out: its sender already has the error
      clearTimeout(waiter.timer);
      this.queue.push(waiter.message);
      waiter.resolve();
      return;
    }
  }

  /**
   * Empties the mailbox: queued messages and those of waiting senders go to `onDropped`; waiting senders
   * are rejected with `error`.
   */
  close(error: Error, onDropped: (message: LocalMessage) => void): void {
    this.queue.drain(onDropped);
    this.waiters.drain((waiter) => {
      if (waiter.timer === undefined) return;
      clearTimeout(waiter.timer);
      onDropped(waiter.message);
      waiter.reject(error);
    });
  }
}
