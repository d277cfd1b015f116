import { originOf, type Routed } from '../core/message';
import type { Context } from '../node/context';
import type { Worker } from '../node/worker';
import type { Entry } from './forwarder-table';

/** How much one forwarder holds for a client that does not take it (see `maxQueuedPerForwarder`). */
export interface ForwarderBounds {
  readonly maxQueuedPerForwarder: number;
  readonly maxQueuedBytesPerForwarder: number;
}

/** What all the forwarders of a service count. */
export interface ForwarderCounters {
  forwarded: number;
  congested: number;
}

/** The size a queued message is charged: its bytes if it is binary (a channel frame), else a token 64. */
function sizeOf(body: unknown): number {
  return body instanceof Uint8Array ? body.length : typeof body === 'string' ? body.length : 64;
}

/**
 * Sends on what it receives along the registration's route, followed by whatever came after its address.
 * The one explicit allowance of a hub: it joins the connection (or channel) a message came by with its
 * client's, both ways (`FlowControls.join`), so that the message may go out to the client and the client's
 * replies may come back. No other message from outside leaves the hub.
 *
 * Flow control per destination: the forwarder never waits for its client's connection. While that
 * connection's mailbox is full (the client reads slowly, or its link is frozen) the forwarder holds up to
 * `maxQueuedPerForwarder` messages and `maxQueuedBytesPerForwarder` bytes waiting for room; beyond them it
 * drops what arrives, as an `undeliverable` dead letter with code `CONGESTED` (a sender that takes notices,
 * such as a channel initiator, is told so). So the connection the messages came by is never paused for one
 * slow client, and its traffic to every other forwarder keeps flowing.
 */
export class Forwarder implements Worker<unknown> {
  /** Messages handed to the client's connection that it has not taken yet (or just taken). */
  private queued = 0;
  private queuedBytes = 0;

  constructor(
    private readonly entry: Entry,
    private readonly bounds: ForwarderBounds,
    private readonly counters: ForwarderCounters,
  ) {}

  handleMessage(ctx: Context, message: Routed<unknown>): void {
    const size = sizeOf(message.body);
    if (
      this.queued >= this.bounds.maxQueuedPerForwarder ||
      (this.queued > 0 && this.queuedBytes + size > this.bounds.maxQueuedBytesPerForwarder)
    ) {
      this.counters.congested++;
      ctx.deadLetter(
        'undeliverable',
        `forwarder ${this.entry.address.value} holds its maximum (${this.queued} messages, ${this.queuedBytes} bytes) for a client that does not read`,
        message.message,
        { code: 'CONGESTED' },
      );
      return;
    }
    const onward = this.entry.route.concat(message.onwardRoute.stepForward());
    const origin = originOf(message);
    if (origin !== undefined) ctx.join(origin.last.producer, onward.nextOrThrow());
    this.counters.forwarded++;
    this.queued++;
    this.queuedBytes += size;
    // Local info (that it came from a transport) travels on, so the client's workers can refuse it.
    const forwarded = message.message.withRoutes(onward, message.returnRoute);
    ctx.forward(forwarded).then(
      () => this.taken(size),
      (err: unknown) => {
        this.taken(size);
        // A stopping connection has recorded the message itself; one whose mailbox stayed full past the
        // node's send timeout dropped it without a record, so it is counted here.
        if ((err as { code?: unknown }).code !== 'MAILBOX_FULL') return;
        ctx.deadLetter(
          'undeliverable',
          `forwarder ${this.entry.address.value}: its client's connection did not take it (${(err as Error).message})`,
          forwarded,
          { code: 'CONGESTED', cause: err },
        );
      },
    );
  }

  private taken(size: number): void {
    this.queued--;
    this.queuedBytes -= size;
  }
}
