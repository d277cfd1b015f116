import { Address } from '../core/address';
import { LocalMessage, type LocalInfo, type Routed } from '../core/message';
import { Route, toRoute, type Destination } from '../core/route';
import type { DeadLetter, DropCause, DropReason } from './dead-letters';
import { NodeError } from './errors';
import type { Logger } from './logger';
import type { NodeRuntime, StartClassOptions, WorkerConstructor } from './node-runtime';
import { settled, type Delivery, type Sent } from './delivery';
import type { Deadline, DeadlineCause } from './deadlines';
import type { Inbox } from './inbox';
import { ReplySlot } from './reply-slot';
import type { Worker, WorkerOptions } from './worker';

export type { Destination } from '../core/route';

/** Options of calls that wait. */
export interface WaitOptions {
  /** Milliseconds before the call rejects with `TimeoutError`. Default: the node's `defaultTimeoutMs`. */
  readonly timeout?: number;
}

/** Options of `request`. */
export interface RequestOptions extends WaitOptions {
  /**
   * Accept a reply that arrived straight from a transport connection (a plain TCP request to another
   * node's service). Default false: a reply must come from a worker on this node, such as a secure
   * channel's decryptor, so a hostile relay cannot answer in the channel's place.
   */
  readonly acceptsTransportReplies?: boolean;
}

export { QUEUED, untilQueued, type Delivery, type Sent } from './delivery';

/** The options of a call made without any (one object, not one per call). */
const NO_OPTIONS: RequestOptions = Object.freeze({});

/**
 * What the channel and service layers may ask of their node, besides sending: a node seen through a
 * worker's context rather than through the node's internals (router, dead letters, flow controls).
 */
export interface NodeHost {
  /** The node is stopping or has stopped. */
  readonly isNodeStopped: boolean;
  /** Hands a message to its next hop as it is, and says what became of it. */
  deliver(message: LocalMessage): Delivery;
  /** Records a message that was not delivered (a dead letter). */
  deadLetter(reason: DropReason, detail: string, message: LocalMessage, cause?: DropCause): void;
  /** `FlowControls.admit`: whether a message may leave by `consumer`, recording a refusal if not. */
  admit(message: LocalMessage, consumer: Address, what: string): boolean;
  /** `FlowControls.join`: messages from `from` may enter `to`, and replies come back. */
  join(from: Address, to: Address): void;
  /** Refuses a message from outside at a way out: counted as a flow-control refusal, an `access-denied` dead letter. */
  refuse(message: LocalMessage, detail: string): void;
  /** The worker at `address` is running. */
  hasWorker(address: string | Address): boolean;
  /** Stops the worker at `address`. */
  stopWorker(address: string | Address): Promise<void>;
  /** This worker takes what is sent to `address` too (see `Context.addAddress`). */
  addAddress(address: string | Address): Address;
  /** The reverse of `addAddress`. */
  removeAddress(address: string | Address): void;
  /** A logger of the node's (not this context's), with `bindings`. */
  childLogger(bindings: Record<string, unknown>): Logger;
  /** Calls `listener` each time a worker of the node stops; returns the function that stops listening. */
  onWorkerStopped(listener: (address: Address) => void): () => void;
  /** Calls `listener` for each dead letter of the node; returns the function that stops listening. */
  onDeadLetter(listener: (letter: DeadLetter) => void): () => void;
  /** Calls `fire('timeout')` after `ms` unless cancelled (`fire('flushed')` if the node stops first). */
  deadline(ms: number, fire: (cause: DeadlineCause) => void): Deadline;
}

/**
 * A worker's (or a program's) handle on its node: its own address, sending, receiving, and starting and
 * stopping workers. A message sent from a context carries the context's address as its return route.
 */
export class Context implements NodeHost {
  /** The return route of messages sent from here, built once. */
  private readonly fromHere: Route;

  constructor(
    /** The node this context belongs to. */
    readonly node: NodeRuntime,
    /** The context's primary address. */
    readonly address: Address,
    /** Every address of the worker (the primary first). */
    readonly addresses: readonly Address[],
    readonly logger: Logger,
    private readonly inbox?: Inbox,
  ) {
    this.fromHere = Route.of([address]);
  }

  /**
   * Sends `body` along `to`, with this context's address as the return route. Resolves with what became of
   * it at its next hop: `{ status: 'queued' }` (at once unless that mailbox is full, in which case it waits:
   * backpressure), or `{ status: 'refused', letter }` with the dead letter saying why (no such address, an
   * access rule, the node stopping). Rejects only with `NodeError` `MAILBOX_FULL` after `sendTimeoutMs`.
   */
  send(to: Destination, body: unknown): Promise<Sent> {
    const onward = toRoute(to);
    return this.forward(new LocalMessage(onward, this.fromHere, body, this.traceFor(onward)));
  }

  /** Sends with another return route's first hop (a worker replying on behalf of another address). */
  sendFrom(from: Address, to: Destination, body: unknown): Promise<Sent> {
    const onward = toRoute(to);
    return this.forward(new LocalMessage(onward, Route.of([from]), body, this.traceFor(onward)));
  }

  /** The trace context of a message sent now along `onward`, when the node traces (node/tracing.ts). */
  private traceFor(onward: Route): LocalInfo | undefined {
    return this.node.tracing?.inject(onward.next);
  }

  /** Hands on a complete message as it is (routes, body and local info); settles as `send` does. */
  forward(message: LocalMessage): Promise<Sent> {
    return settled(this.node.dispatch(message));
  }

  /**
   * Hands a message to its next hop as it is, and says at once what became of it (see `Delivery`): for
   * code that must not wait, such as a channel sending frames from inside its handler.
   */
  deliver(message: LocalMessage): Delivery {
    return this.node.dispatch(message);
  }

  /** The node is stopping or has stopped. */
  get isNodeStopped(): boolean {
    return this.node.isStopped;
  }

  /** Records a message that was not delivered, with the reason (see `DeadLetters.record`). */
  deadLetter(reason: DropReason, detail: string, message: LocalMessage, cause?: DropCause): void {
    this.node.deadLetters.record(reason, detail, message, cause);
  }

  /** Whether `message` may leave the node by `consumer` (see `FlowControls.admit`); a refusal is recorded. */
  admit(message: LocalMessage, consumer: Address, what: string): boolean {
    return this.node.flowControls.admit(message, consumer, what);
  }

  /** Lets messages from `from` enter `to` and the other way round (see `FlowControls.join`). */
  join(from: Address, to: Address): void {
    this.node.flowControls.join(from, to);
  }

  /** Refuses a message from outside at a way out: a flow-control refusal, recorded as `access-denied`. */
  refuse(message: LocalMessage, detail: string): void {
    this.node.flowControls.stats.refused++;
    this.node.deadLetters.record('access-denied', detail, message);
  }

  /** The worker at `address` is running. */
  hasWorker(address: string | Address): boolean {
    return this.node.hasWorker(address);
  }

  /** A logger of the node's (without this context's own bindings), with `bindings`. */
  childLogger(bindings: Record<string, unknown>): Logger {
    return this.node.logger.child(bindings);
  }

  /** Calls `listener` each time a worker of the node stops; returns the function that stops listening. */
  onWorkerStopped(listener: (address: Address) => void): () => void {
    this.node.on('workerStopped', listener);
    return () => this.node.off('workerStopped', listener);
  }

  /** Calls `listener` for each dead letter of the node; returns the function that stops listening. */
  onDeadLetter(listener: (letter: DeadLetter) => void): () => void {
    this.node.deadLetters.on('deadLetter', listener);
    return () => this.node.deadLetters.off('deadLetter', listener);
  }

  /** Calls `fire('timeout')` after `ms` unless cancelled; `fire('flushed')` if the node stops first. */
  deadline(ms: number, fire: (cause: DeadlineCause) => void): Deadline {
    return this.node.deadlines.add(ms, fire);
  }

  /**
   * The next message for this context. Only contexts made by `node.context()` (or a program's `main`)
   * receive this way; a worker receives through `handleMessage`. Rejects with `TimeoutError`.
   */
  receive<T = unknown>(options: WaitOptions = NO_OPTIONS): Promise<Routed<T>> {
    if (this.inbox === undefined) {
      return Promise.reject(
        new NodeError(
          'RECEIVE_UNSUPPORTED',
          `${this.address.key} is a worker: it receives in handleMessage (use ctx.request to await a reply)`,
        ),
      );
    }
    return this.inbox.receive(options.timeout ?? this.node.defaultTimeoutMs) as Promise<Routed<T>>;
  }

  /**
   * Sends `body` and waits for the reply. The reply comes to a one-off address, not to this context's
   * mailbox, so a worker can await it inside its handler. Rejects with `TimeoutError`.
   */
  request<T = unknown>(
    to: Destination,
    body: unknown,
    options: RequestOptions = NO_OPTIONS,
  ): Promise<Routed<T>> {
    if (this.node.isStopped) return Promise.reject(new NodeError('NODE_STOPPED', 'the node has stopped'));
    const timeout = options.timeout ?? this.node.defaultTimeoutMs;
    const slot = new ReplySlot(this.node, timeout, options.acceptsTransportReplies ?? false);
    const onward = toRoute(to);
    const sent = this.node.dispatch(new LocalMessage(onward, slot.returnRoute, body, this.traceFor(onward)));
    if (sent.status === 'backpressure') {
      sent.room.catch((err: unknown) => slot.fail(err));
    } else if (sent.status === 'refused') {
      // Refused at once (no such local address, say): no reply can come, so fail now, not at the timeout.
      slot.fail(new NodeError('NO_ROUTE', `request not delivered: ${sent.letter.detail}`));
    }
    return slot.reply as Promise<Routed<T>>;
  }

  /** Starts a worker from an instance, or from a decorated class; see `NodeRuntime.startWorker`. */
  startWorker<T>(
    address: string | Address | readonly (string | Address)[],
    worker: Worker<T>,
    options?: WorkerOptions<T>,
  ): Promise<Context>;
  startWorker(workerClass: WorkerConstructor, overrides?: StartClassOptions): Promise<Context>;
  startWorker(
    first: string | Address | readonly (string | Address)[] | WorkerConstructor,
    second?: Worker<unknown> | StartClassOptions,
    third?: WorkerOptions<unknown>,
  ): Promise<Context> {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one implementation behind two overloads
    return (this.node.startWorker as any)(first, second, third);
  }

  /** Stops the worker at `address` (shutdown runs; queued messages become dead letters). */
  stopWorker(address: string | Address): Promise<void> {
    return this.node.stopWorker(address);
  }

  /**
   * Makes this worker receive what is sent to `address` as well, until `removeAddress` or until it stops:
   * a worker that stands for many addresses that come and go (a hub's routes to names on other hubs) needs
   * one mailbox, not one worker each. Its handler tells them apart by `message.address`. The worker is
   * still named by the addresses it started with (`stopWorker`, `hasWorker`, `addresses`). Throws
   * `NodeError` `ADDRESS_IN_USE`, `INVALID_ADDRESS` (not local), or `WORKER_NOT_FOUND` (a detached
   * context, or a worker that is stopping).
   */
  addAddress(address: string | Address): Address {
    const added = typeof address === 'string' ? Address.local(address) : address;
    this.node.addAddress(this.address, added);
    return added;
  }

  /** Stops taking what is sent to `address`, an address `addAddress` added (any other: nothing happens). */
  removeAddress(address: string | Address): void {
    this.node.removeAddress(this.address, typeof address === 'string' ? Address.local(address) : address);
  }

  /** Stops the whole node. */
  stop(): Promise<void> {
    return this.node.stop();
  }
}
