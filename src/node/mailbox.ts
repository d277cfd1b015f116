import type { LocalMessage } from '../core/message';
import { NodeError } from './errors';
import { RingQueue } from './ring-queue';

interface Waiter {
  readonly message: LocalMessage;
  readonly size: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * A bounded FIFO of messages for one worker. While it has room, `offer` enqueues synchronously and returns
 * undefined; when it is full the sender gets a promise that resolves once its message is admitted, in
 * order, or rejects with `NodeError` `MAILBOX_FULL` after `sendTimeoutMs`. So a fast producer waits instead
 * of growing memory without limit. A `sized` mailbox also counts the bytes its messages stand for (as its
 * owner measures them, queued and waiting alike), so that its owner can refuse beyond a byte bound.
 */
export class Mailbox {
  private readonly queue = new RingQueue<LocalMessage>();
  private readonly waiters = new RingQueue<Waiter>();
  /** The size of each queued message, in queue order (sized mailboxes only). */
  private readonly sizes: RingQueue<number> | undefined;
  private heldBytes = 0;

  constructor(
    readonly owner: string,
    readonly capacity: number,
    private readonly sendTimeoutMs: number,
    sized = false,
  ) {
    this.sizes = sized ? new RingQueue<number>() : undefined;
  }

  /** Bytes of the messages queued or waiting to be (sized mailboxes; 0 otherwise). */
  get bytes(): number {
    return this.heldBytes;
  }

  /** Whether a message of `size` bytes would take the mailbox over `limit` (one always fits when empty). */
  wouldExceed(size: number, limit: number): boolean {
    return this.heldBytes + size > limit && (this.queue.length > 0 || !this.waiters.isEmpty);
  }

  get length(): number {
    return this.queue.length;
  }

  /** Senders waiting for room. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Enqueues `message` (of `size` bytes, for a sized mailbox), or returns a promise while it is full. */
  offer(message: LocalMessage, size = 0): Promise<void> | undefined {
    this.heldBytes += size;
    if (this.queue.length < this.capacity && this.waiters.isEmpty) {
      this.queue.push(message);
      this.sizes?.push(size);
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { message, size, resolve, reject, timer: undefined };
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

  /**
   * Enqueues `message` at once even beyond `capacity` (the caller bounds it otherwise, in bytes): for a
   * message relayed from outside, which must not make the connection it came by wait.
   */
  push(message: LocalMessage, size = 0): void {
    this.heldBytes += size;
    this.queue.push(message);
    this.sizes?.push(size);
  }

  /** The next message, admitting one waiting sender into the room it leaves. */
  take(): LocalMessage | undefined {
    const message = this.queue.shift();
    if (message === undefined) return undefined;
    if (this.sizes !== undefined) this.heldBytes -= this.sizes.shift()!;
    if (!this.waiters.isEmpty) this.admit();
    return message;
  }

  /**
   * Forgets timed-out senders (and their messages) at once, so that senders retrying against a stuck
   * worker do not pile up. Every sender waits the same `sendTimeoutMs`, so they time out in line order and
   * the expired ones are always at the head.
   */
  private dropExpired(): void {
    while (!this.waiters.isEmpty && this.waiters.peek()!.timer === undefined) {
      this.heldBytes -= this.waiters.shift()!.size;
    }
  }

  private admit(): void {
    let waiter: Waiter | undefined;
    while ((waiter = this.waiters.shift()) !== undefined) {
      if (waiter.timer === undefined) {
        this.heldBytes -= waiter.size; // timed out: its sender already has the error
        continue;
      }
      clearTimeout(waiter.timer);
      this.queue.push(waiter.message);
      this.sizes?.push(waiter.size);
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
    this.sizes?.drain(() => undefined);
    this.heldBytes = 0;
    this.waiters.drain((waiter) => {
      if (waiter.timer === undefined) return;
      clearTimeout(waiter.timer);
      onDropped(waiter.message);
      waiter.reject(error);
    });
  }
}
