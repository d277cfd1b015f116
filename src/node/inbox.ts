import { TimeoutError } from '../core/errors';
import { cameFromTransport, type LocalMessage } from '../core/message';
import { QUEUED, backpressure, type Delivery } from './delivery';
import { Mailbox } from './mailbox';
import { RingQueue } from './ring-queue';
import type { Recipient } from './router';

interface Receiver {
  readonly resolve: (message: LocalMessage) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/** The mailbox of a detached context: messages wait for `receive`, and receivers wait for messages. */
export class Inbox implements Recipient {
  private readonly mailbox: Mailbox;
  private readonly receivers = new RingQueue<Receiver>();
  private closedWith: Error | undefined;

  constructor(
    owner: string,
    capacity: number,
    sendTimeoutMs: number,
    private readonly onDropped: (message: LocalMessage, detail: string) => Delivery,
    private readonly acceptsTransport = false,
  ) {
    this.mailbox = new Mailbox(owner, capacity, sendTimeoutMs);
  }

  deliver(message: LocalMessage): Delivery {
    if (!this.acceptsTransport && cameFromTransport(message)) {
      return this.onDropped(message, 'it arrived from a transport connection');
    }
    let receiver: Receiver | undefined;
    while ((receiver = this.receivers.shift()) !== undefined) {
      if (receiver.timer === undefined) continue;
      clearTimeout(receiver.timer);
      receiver.resolve(message);
      return QUEUED;
    }
    const waiting = this.mailbox.offer(message);
    return waiting === undefined ? QUEUED : backpressure(waiting);
  }

  receive(timeoutMs: number): Promise<LocalMessage> {
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith);
    const queued = this.mailbox.take();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise<LocalMessage>((resolve, reject) => {
      const receiver: Receiver = { resolve, reject, timer: undefined };
      receiver.timer = setTimeout(() => {
        receiver.timer = undefined;
        // Timed-out receivers leave the line now, not at the next message, or a polling loop piles them up.
        while (this.receivers.peek()?.timer === undefined && !this.receivers.isEmpty) this.receivers.shift();
        reject(new TimeoutError(`receive timed out after ${timeoutMs} ms`, timeoutMs));
      }, timeoutMs);
      this.receivers.push(receiver);
    });
  }

  close(error: Error): void {
    this.closedWith = error;
    this.receivers.drain((receiver) => {
      if (receiver.timer === undefined) return;
      clearTimeout(receiver.timer);
      receiver.reject(error);
    });
    this.mailbox.close(error, (message) => this.onDropped(message, 'its context was closed'));
  }
}
