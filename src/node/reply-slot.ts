import { DeliveryFailureNotice } from '../core/delivery-failure';
import { TimeoutError } from '../core/errors';
import { cameFromTransport, type LocalMessage } from '../core/message';
import { Route } from '../core/route';
import { Timed, type DeadlineCause } from './deadlines';
import { QUEUED, type Delivery } from './delivery';
import { NodeError } from './errors';
import type { NodeRuntime } from './node-runtime';
import { ReplyAddress, type Recipient } from './router';

/** The error a request fails with when a notice says its message was dropped. */
function failureError(notice: DeliveryFailureNotice, fromTransport: boolean): NodeError {
  const where = notice.cause !== undefined ? 'on this node' : fromTransport ? 'by a peer' : 'on its way';
  return new NodeError(notice.code, `request not delivered: ${notice.code} (reported ${where})`, {
    cause: notice.cause,
  });
}

let replySlots = 0;

// The reply promise's settle functions, taken by one shared executor (no closure per request).
let capturedResolve: ((message: LocalMessage) => void) | undefined;
let capturedReject: ((error: unknown) => void) | undefined;
function capture(resolve: (message: LocalMessage) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * A one-off address that takes exactly one reply, then unregisters itself. It is its own entry in the
 * node's deadlines (no entry or closure of its own per request).
 */
export class ReplySlot extends Timed implements Recipient {
  readonly address: ReplyAddress;
  readonly returnRoute: Route;
  readonly reply: Promise<LocalMessage>;
  private readonly resolve: (message: LocalMessage) => void;
  private readonly reject: (error: unknown) => void;

  constructor(
    private readonly node: NodeRuntime,
    private readonly timeoutMs: number,
    private readonly acceptsTransport: boolean,
  ) {
    super();
    this.address = new ReplyAddress(++replySlots, this);
    this.returnRoute = Route.one(this.address);
    this.reply = new Promise<LocalMessage>(capture);
    this.resolve = capturedResolve!;
    this.reject = capturedReject!;
    node.router.registerReply(this.address);
    node.deadlines.track(timeoutMs, this);
  }

  protected expired(cause: DeadlineCause): void {
    this.fail(
      cause === 'timeout'
        ? new TimeoutError(`no reply within ${this.timeoutMs} ms`, this.timeoutMs)
        : new NodeError('NODE_STOPPED', 'the node stopped before the reply came'),
    );
  }

  deliver(message: LocalMessage): Delivery {
    const fromTransport = cameFromTransport(message);
    if (message.body instanceof DeliveryFailureNotice) {
      // A plain notice from a connection is believed only where a plain reply would be: through a secure
      // channel, only an authenticated one (decrypted by the channel) can fail the request.
      if (fromTransport && !this.acceptsTransport) {
        this.node.logger.debug({ code: message.body.code }, 'ignored a plain delivery failure notice');
        return QUEUED;
      }
      this.fail(failureError(message.body, fromTransport));
      return QUEUED;
    }
    if (!this.acceptsTransport && fromTransport) {
      return this.node.deadLetters.record(
        'access-denied',
        'this request refuses replies straight from a transport (see acceptsTransportReplies)',
        message,
      );
    }
    this.finish();
    this.resolve(message);
    return QUEUED;
  }

  fail(error: unknown): void {
    this.finish();
    this.reject(error);
  }

  private finish(): void {
    this.cancel();
    this.node.router.unregisterReply(this.address);
  }
}
