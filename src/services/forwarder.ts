import { originOf, type Routed } from '../core/message';
import type { Context } from '../node/context';
import { untilQueued } from '../node/delivery';
import type { Worker } from '../node/worker';
import type { Entry } from './forwarder-table';

/**
 * Sends on what it receives along the registration's route, followed by whatever came after its address.
 * The one explicit allowance of a hub: it joins the connection (or channel) a message came by with its
 * client's, both ways (`FlowControls.join`), so that the message may go out to the client and the client's
 * replies may come back. No other message from outside leaves the hub.
 *
 * It never waits for its client's connection: a message from outside is queued there at once or, when that
 * queue holds its maximum (the client reads slowly, or its link froze), dropped as `CONGESTED` with a notice
 * to its sender (`TcpTransportOptions.maxQueuedBytesPerConnection`). So one stalled client never pauses the
 * connection a message came by, nor that connection's traffic to anyone else.
 */
export class Forwarder implements Worker<unknown> {
  /** It passes a body on without reading it: a large frame that came in pieces stays in them. */
  readonly takesByteParts = true;

  constructor(
    private readonly entry: Entry,
    private readonly counters: { forwarded: number },
  ) {}

  handleMessage(ctx: Context, message: Routed<unknown>): Promise<void> | undefined {
    const onward = this.entry.route.concat(message.onwardRoute.stepForward());
    const origin = originOf(message);
    if (origin !== undefined) ctx.join(origin.last.producer, onward.nextOrThrow());
    this.counters.forwarded++;
    // Local info (that it came from a transport) travels on, so the client's workers can refuse it.
    // Handed on at once (`deliver`, not `forward`): queued or refused (a dead letter) is settled now, and
    // only a wait for room holds the next message back. A promise per message made every forwarded message
    // a turn of the scheduler of its own.
    return untilQueued(ctx.deliver(message.message.withRoutes(onward, message.returnRoute)));
  }
}
