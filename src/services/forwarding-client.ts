import { randomBytes } from 'node:crypto';
import type { Address } from '../core/address';
import type { Route } from '../core/route';
import type { DeadLetter } from '../node/dead-letters';
import { ServicesError } from './errors';
import {
  forwardingReplyCodec,
  forwardingRequestCodec,
  type ForwardingReply,
  type ForwardingRequest,
} from './forwarding-messages';

interface PendingCall {
  readonly resolve: (reply: ForwardingReply) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Late replies to requests that timed out are recognised (and dropped) among this many recent nonces. */
const RECENT_NONCES = 32;

/**
 * The request side of the forwarding protocol for a `RemoteForwarder`: sends a request to the hub's
 * forwarding service, and settles it with the reply carrying the same nonce, with `TIMEOUT`, with
 * `UNREACHABLE` as soon as the request is dead-lettered on this node, or with `STOPPED`.
 */
export class ForwardingClient {
  private readonly pending = new Map<string, PendingCall>();
  private readonly recentNonces: string[] = [];
  private stopped = false;

  constructor(
    /** Where replies come back: the remote forwarder's worker (the return route of every request). */
    private readonly address: Address,
    private readonly serviceRoute: Route,
    /** Sends a body to a route (the worker's context). */
    private readonly send: (to: Route, body: unknown) => Promise<unknown>,
  ) {}

  /**
   * Takes a message the worker received: true if it was a reply to a request of ours (late replies to
   * requests that timed out included), so it is not forwarded on.
   */
  takeReply(body: unknown): boolean {
    if (!forwardingReplyCodec.accepts(body)) return false;
    return this.settle(body.nonce, body) || this.recentNonces.includes(body.nonce);
  }

  /** Fails every pending request with `STOPPED`, and every later one. */
  stop(): void {
    this.stopped = true;
    for (const nonce of [...this.pending.keys()]) {
      this.settle(nonce, new ServicesError('STOPPED', 'the remote forwarder stopped'));
    }
  }

  /** Sends a request to the service and waits for the reply with the same nonce. */
  call(request: RequestFields, timeoutMs: number): Promise<ForwardingReply> {
    if (this.stopped) return Promise.reject(new ServicesError('STOPPED', 'the remote forwarder stopped'));
    const nonce = randomBytes(16).toString('hex');
    // CBOR has no `undefined`; leave absent fields out.
    const fields = Object.entries(request).filter(([, value]) => value !== undefined);
    const body = { v: 2, ...Object.fromEntries(fields), nonce } as ForwardingRequest;
    return new Promise<ForwardingReply>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          this.settle(nonce, new ServicesError('TIMEOUT', `no ${body.type} reply within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.pending.set(nonce, { resolve, reject, timer });
      this.send(this.serviceRoute, body).catch((err: unknown) =>
        this.settle(nonce, new ServicesError('UNREACHABLE', (err as Error).message, { cause: err })),
      );
    });
  }

  /** Ends a pending call with a reply or an error; false if there was no such call. */
  private settle(nonce: string, outcome: ForwardingReply | Error): boolean {
    const call = this.pending.get(nonce);
    if (call === undefined) return false;
    this.pending.delete(nonce);
    clearTimeout(call.timer);
    this.recentNonces.push(nonce);
    if (this.recentNonces.length > RECENT_NONCES) this.recentNonces.shift();
    if (outcome instanceof Error) call.reject(outcome);
    else call.resolve(outcome);
    return true;
  }

  /** A request of ours that could not be carried (no connection to the hub) fails at once, not at its timeout. */
  readonly onDeadLetter = (letter: DeadLetter): void => {
    const body = letter.message.body;
    if (!letter.message.returnRoute.next?.equals(this.address) || !forwardingRequestCodec.accepts(body))
      return;
    this.settle(body.nonce, new ServicesError('UNREACHABLE', `${letter.reason}: ${letter.detail}`));
  };
}

/** `Omit` over each member of a union. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A request as `call` takes it: without `v` and `nonce`, optional fields may be `undefined`. */
export type RequestFields =
  DistributiveOmit<ForwardingRequest, 'nonce' | 'v'> extends infer R
    ? R extends unknown
      ? { [K in keyof R]: R[K] | (undefined extends R[K] ? undefined : never) }
      : never
    : never;
