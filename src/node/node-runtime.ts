import { EventEmitter } from 'eventemitter3';
import { Address, type AddressType } from '../core/address';
import type { LocalMessage } from '../core/message';
import { Context } from './context';
import { Inbox } from './inbox';
import { DeadLetters } from './dead-letters';
import { untilQueued, type Delivery } from './delivery';
import { Deadlines } from './deadlines';
import { NodeError } from './errors';
import { FailureNotices } from './failure-notices';
import { FlowControls } from './flow-controls';
import { NodeTracing } from './tracing';
import { defaultLogger, type Logger } from './logger';
import { nodeMetrics } from './metrics';
import type { MetricsSnapshot } from './metrics-snapshot';
import { Router } from './router';
import {
  checkWorkerOptions,
  resolveNodeOptions,
  type NodeEvents,
  type NodeOptions,
  type StartClassOptions,
  type WorkerConstructor,
  type WorkerFactory,
} from './node-options';
import { Scheduler } from './scheduler';
import { SignalStop } from './signal-stop';
import type { Worker, WorkerOptions } from './worker';
import { WorkerCell, type CellHost } from './worker-cell';

export {
  MAX_MAILBOX_CAPACITY,
  type BuiltWorker,
  type NodeEvents,
  type NodeOptions,
  type StartClassOptions,
  type WorkerConstructor,
  type WorkerFactory,
} from './node-options';

function toAddress(address: string | Address): Address {
  return typeof address === 'string' ? Address.local(address) : address;
}

/**
 * A node: a router, one mailbox per worker and a scheduler. Start workers at local addresses, send
 * messages along routes, stop it to run every worker's shutdown and close everything.
 */
export class NodeRuntime extends EventEmitter<NodeEvents> {
  readonly logger: Logger;
  /**
   * Messages that were not delivered: counts by reason, the recent ones, a `deadLetter` event each. Read
   * them here; workers record through their `Context` (`ctx.deadLetter`).
   */
  readonly deadLetters: DeadLetters;
  /**
   * @internal For src/node only (contexts, the transport host): channels and services reach the node
   * through `Context` (`NodeHost`), transports through `TransportHost`; test/structure checks it.
   */
  readonly router: Router;
  /**
   * Where messages from outside may leave the node again (see `FlowControls`): `allow` and `stats` are for
   * applications; the ways out of the node admit and join through their `Context`.
   */
  readonly flowControls: FlowControls;
  readonly sendTimeoutMs: number;
  readonly defaultTimeoutMs: number;
  readonly defaultMailboxCapacity: number;
  readonly stopTimeoutMs: number;
  /**
   * @internal Shared timeouts of requests (one timer for all), for src/node only; workers use
   * `ctx.deadline`, transports `TransportHost.deadline`.
   */
  readonly deadlines = new Deadlines();
  /** The delivery failure notices this node sends about requests it drops (read `stats`). */
  readonly failureNotices: FailureNotices;
  /** Trace context propagation, when the node was created with `tracing: true`. */
  readonly tracing: NodeTracing | undefined;
  private readonly scheduler: Scheduler;
  /** What each worker cell may use of its node. */
  private readonly cellHost: CellHost;
  private readonly cells = new Map<string, WorkerCell>();
  private readonly inboxes = new Map<string, Inbox>();
  private stopping: Promise<void> | undefined;
  private readonly workerFactory: WorkerFactory | undefined;
  private readonly signals = new SignalStop(
    () => void this.stop(),
    () => this.logger,
  );

  constructor(options: NodeOptions = {}) {
    super();
    // Every option is checked before anything is built, so a bad one leaves nothing behind.
    const o = resolveNodeOptions(options);
    this.defaultMailboxCapacity = o.mailboxCapacity;
    this.sendTimeoutMs = o.sendTimeoutMs;
    this.defaultTimeoutMs = o.defaultTimeoutMs;
    this.stopTimeoutMs = o.stopTimeoutMs;
    this.logger = options.logger ?? defaultLogger();
    let notices: FailureNotices | undefined;
    this.deadLetters = new DeadLetters(this.logger.child({ component: 'dead-letters' }), (letter) =>
      notices?.onDeadLetter(letter),
    );
    this.scheduler = new Scheduler(o);
    this.router = new Router(this.deadLetters);
    this.failureNotices = notices = new FailureNotices(
      this.router,
      o.failureNoticesPerSecond,
      () => this.isStopped,
    );
    this.flowControls = new FlowControls(this.deadLetters, o.maxJoinsPerProducer);
    this.workerFactory = options.workerFactory;
    this.tracing = options.tracing === true ? new NodeTracing() : undefined;
    this.cellHost = {
      tracing: this.tracing,
      scheduler: this.scheduler,
      deadLetters: this.deadLetters,
      sendTimeoutMs: this.sendTimeoutMs,
      defaultMailboxCapacity: this.defaultMailboxCapacity,
      stopTimeoutMs: this.stopTimeoutMs,
      release: (cell, announce) => this.release(cell, announce),
    };
  }

  get isStopped(): boolean {
    return this.stopping !== undefined;
  }

  /** Addresses of the running workers (primary addresses). */
  workers(): Address[] {
    return [...new Set(this.cells.values())].map((cell) => cell.address);
  }

  /**
   * Starts a worker at one or more local addresses, or builds one from a decorated class
   * (`startWorker(Echoer)`, addresses from `@Worker({ address })` unless overridden). Resolves with its
   * context once `initialize` has run; rejects with `NodeError` `ADDRESS_IN_USE`, `NO_ADDRESS`, `NO_WORKER_FACTORY`,
   * `INITIALIZE_FAILED` or `INVALID_OPTION` (a `mailboxCapacity` out of range).
   */
  startWorker<T>(
    addresses: string | Address | readonly (string | Address)[],
    worker: Worker<T>,
    options?: WorkerOptions<T>,
  ): Promise<Context>;
  startWorker(workerClass: WorkerConstructor, overrides?: StartClassOptions): Promise<Context>;
  async startWorker(
    first: string | Address | readonly (string | Address)[] | WorkerConstructor,
    second?: Worker<unknown> | StartClassOptions,
    third?: WorkerOptions<unknown>,
  ): Promise<Context> {
    this.assertRunning();
    if (typeof first === 'function') {
      if (this.workerFactory === undefined) {
        throw new NodeError(
          'NO_WORKER_FACTORY',
          `cannot build ${first.name}: this node has no worker factory (create it with createNode() or run())`,
        );
      }
      const built = this.workerFactory(first);
      const { address, ...overrides } = (second ?? {}) as StartClassOptions;
      const addresses = address ?? built.addresses;
      if (Array.isArray(addresses) && addresses.length === 0) {
        throw new NodeError(
          'NO_ADDRESS',
          `${first.name} has no address: give @Worker({ address }) or one here`,
        );
      }
      return this.spawn(addresses, built.worker, { ...built.options, ...overrides });
    }
    return this.spawn(first, second as Worker<unknown>, third ?? {});
  }

  private async spawn(
    addresses: string | Address | readonly (string | Address)[],
    worker: Worker<unknown>,
    options: WorkerOptions<unknown>,
  ): Promise<Context> {
    checkWorkerOptions(options);
    const list = (Array.isArray(addresses) ? addresses : [addresses]).map(toAddress);
    if (list.length === 0) throw new NodeError('NO_ADDRESS', 'a worker needs at least one address');
    const logger = this.logger.child({ worker: list[0]!.key });
    const ctx = new Context(this, list[0]!, list, logger);
    const cell = new WorkerCell(this.cellHost, list, worker, options, ctx, logger);
    for (const [i, address] of list.entries()) {
      try {
        this.router.register(address, cell);
      } catch (err) {
        for (const added of list.slice(0, i)) this.router.unregister(added, cell);
        throw err;
      }
    }
    for (const address of list) this.cells.set(address.key, cell);
    await cell.start();
    this.emit('workerStarted', cell.address);
    return ctx;
  }

  /** Stops the worker at `address`. Rejects with `WORKER_NOT_FOUND` if there is none. */
  async stopWorker(address: string | Address): Promise<void> {
    const cell = this.cells.get(toAddress(address).key);
    if (cell === undefined) throw new NodeError('WORKER_NOT_FOUND', `no worker at ${toAddress(address).key}`);
    await cell.stop();
  }

  /** @internal For `Context.addAddress` (which says what it throws): the worker at `owner` takes `address` too. */
  addAddress(owner: Address, address: Address): void {
    const cell = this.cells.get(owner.key);
    if (cell === undefined || !cell.takesAddresses) {
      throw new NodeError('WORKER_NOT_FOUND', `no running worker at ${owner.key} to take ${address.key}`);
    }
    this.router.register(address, cell);
    cell.added.set(address.key, address);
  }

  /** @internal For `Context.removeAddress`: the reverse of `addAddress` (nothing if it was not added). */
  removeAddress(owner: Address, address: Address): void {
    const cell = this.cells.get(owner.key);
    if (cell?.added.delete(address.key) !== true) return;
    this.router.unregister(address, cell);
    this.flowControls.forget(address);
  }

  /** The worker at `address` is running. */
  hasWorker(address: string | Address): boolean {
    return this.cells.get(toAddress(address).key)?.isRunning ?? false;
  }

  /**
   * A detached context: an address with an inbox that the program reads with `receive`, for code that is
   * not a worker (a program's main, a test).
   */
  context(name?: string, options: { acceptsTransportMessages?: boolean } = {}): Context {
    this.assertRunning();
    const address = name === undefined ? Address.unique('ctx.') : Address.local(name);
    const inbox = new Inbox(
      address.key,
      this.defaultMailboxCapacity,
      this.sendTimeoutMs,
      (message, detail) =>
        this.deadLetters.record('access-denied', `${address.key} refused it: ${detail}`, message),
      options.acceptsTransportMessages ?? false,
    );
    this.router.register(address, inbox);
    this.inboxes.set(address.key, inbox);
    return new Context(this, address, [address], this.logger.child({ context: address.key }), inbox);
  }

  /** Closes a detached context: pending receives reject, its address is released. */
  closeContext(ctx: Context): void {
    const inbox = this.inboxes.get(ctx.address.key);
    if (inbox === undefined) return;
    this.inboxes.delete(ctx.address.key);
    this.router.unregister(ctx.address, inbox);
    inbox.close(new NodeError('WORKER_STOPPED', `context ${ctx.address.key} was closed`));
  }

  /**
   * @internal Routes every address of `type` (a transport's) to the worker at `routerAddress`. For the
   * transport host (`TransportHost.routeAddressType`).
   */
  registerTypeRouter(type: AddressType, routerAddress: Address): void {
    this.router.registerTypeRouter(type, routerAddress);
  }

  /** @internal The reverse of `registerTypeRouter`. */
  unregisterTypeRouter(type: AddressType, routerAddress: Address): void {
    this.router.unregisterTypeRouter(type, routerAddress);
  }

  /**
   * Hands a message to its next hop and says what became of it. Used by contexts. Once the node is
   * stopping, messages are refused as dead letters (`node-stopped`) rather than rejections, so a send nobody
   * awaits cannot crash the process.
   */
  dispatch(message: LocalMessage): Delivery {
    this.messagesRouted++;
    if (this.stopping !== undefined) {
      return this.deadLetters.record('node-stopped', 'the node is stopping', message);
    }
    return this.router.dispatch(message);
  }

  /**
   * `dispatch` in the old shape (undefined: queued or dead-lettered), for `TransportHost.deliver` until
   * transports take a `Delivery`.
   */
  deliver(message: LocalMessage): Promise<void> | undefined {
    return untilQueued(this.dispatch(message));
  }

  /** @internal Messages handed to `dispatch` (read by `metrics()`). */
  messagesRouted = 0;

  /**
   * The node's numbers now: messages, dead letters by reason, access refusals, and the transports,
   * channels and forwarders handed to `nodeMetrics(node).track…` (see metrics.ts).
   */
  metrics(): MetricsSnapshot {
    return nodeMetrics(this).snapshot();
  }

  /** Called by a cell (through its host) as it stops taking messages. */
  private release(cell: WorkerCell, announce: boolean): void {
    for (const address of [...cell.addresses, ...cell.added.values()]) {
      this.router.unregister(address, cell);
      if (this.cells.get(address.key) === cell) this.cells.delete(address.key);
      this.flowControls.forget(address);
    }
    cell.added.clear();
    if (announce) this.emit('workerStopped', cell.address);
  }

  /**
   * Stops every worker (each runs its `shutdown`; the last started stop first, so services stop before
   * the transports they use), rejects pending receives and requests, and releases signal handlers.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    // Runs before `stopping` is set (this is the synchronous start of stop()), so listeners can still send.
    try {
      this.emit('stopping');
    } catch (err) {
      this.logger.error({ err }, 'a stopping listener failed');
    }
    const stopped = new NodeError('NODE_STOPPED', 'the node stopped');
    this.deadlines.flush(); // pending requests reject with NODE_STOPPED
    for (const inbox of this.inboxes.values()) inbox.close(stopped);
    this.inboxes.clear();
    const cells = [...new Set(this.cells.values())].reverse();
    for (const cell of cells) await cell.stop();
    this.signals.remove();
    this.emit('stopped');
  }

  /** Stops the node gracefully on SIGINT or SIGTERM (a second signal exits at once). */
  stopOnSignals(): void {
    this.signals.install();
  }

  private assertRunning(): void {
    if (this.stopping !== undefined) throw new NodeError('NODE_STOPPED', 'the node has stopped');
  }
}
