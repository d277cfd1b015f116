import { cameFromTransport, type LocalMessage } from '../core/message';
import type { NodeTracing } from './tracing';
import type { Address } from '../core/address';
import { AccessGate } from './access-gate';
import type { Context } from './context';
import type { DeadLetters } from './dead-letters';
import { QUEUED, backpressure, type Delivery } from './delivery';
import { NodeError } from './errors';
import type { Logger } from './logger';
import { Mailbox } from './mailbox';
import type { Recipient } from './router';
import type { Runnable, Scheduler } from './scheduler';
import type { Worker, WorkerOptions } from './worker';

/**
 * A cell's lifecycle: initializing -> idle <-> busy (a handler or an async access check in flight) ->
 * draining (stop asked while busy: waits for it) -> stopping (shutdown runs) -> stopped.
 */
type CellState =
  | { readonly is: 'initializing' }
  | { readonly is: 'idle' }
  | { readonly is: 'busy' }
  | { readonly is: 'draining'; readonly idle: () => void }
  | { readonly is: 'stopping' }
  | { readonly is: 'stopped' };

const INITIALIZING: CellState = { is: 'initializing' };
const IDLE: CellState = { is: 'idle' };
const BUSY: CellState = { is: 'busy' };
const STOPPING: CellState = { is: 'stopping' };
const STOPPED: CellState = { is: 'stopped' };

/**
 * What a relayed message is charged beyond its encoded size (the message object, its routes and the queue
 * slot), so that the byte bound also bounds how many tiny messages a peer can park in a queue.
 */
const RELAYED_MESSAGE_OVERHEAD = 256;
/** What a cell needs from its node. */
export interface CellHost {
  readonly scheduler: Scheduler;
  readonly deadLetters: DeadLetters;
  readonly sendTimeoutMs: number;
  readonly defaultMailboxCapacity: number;
  /** How long stop waits for a handler in flight. */
  readonly stopTimeoutMs: number;
  /** The node's trace context propagation, if on: each handler runs in its span. */
  readonly tracing: NodeTracing | undefined;
  /** Removes the cell's addresses from the router once it stops taking messages; `announce` if it ran. */
  release(cell: WorkerCell, announce: boolean): void;
}

/**
 * One running worker: its mailbox, its access gate, its place in the scheduler and its lifecycle
 * (initialize -> handle messages one at a time -> shutdown). Internal to the node.
 */
export class WorkerCell implements Recipient, Runnable {
  private state: CellState = INITIALIZING;
  /** In the scheduler's line (at most once). */
  private scheduled = false;
  private stopped: Promise<void> | undefined;
  private readonly mailbox: Mailbox;
  private readonly gate: AccessGate;
  /** Addresses the worker took while it ran (`Context.addAddress`), by key; released with the others. */
  readonly added = new Map<string, Address>();

  constructor(
    private readonly host: CellHost,
    readonly addresses: readonly Address[],
    readonly worker: Worker,
    readonly options: WorkerOptions,
    readonly ctx: Context,
    private readonly logger: Logger,
  ) {
    const owner = addresses[0]!.key;
    this.mailbox = new Mailbox(
      owner,
      options.mailboxCapacity ?? host.defaultMailboxCapacity,
      host.sendTimeoutMs,
      options.queueBytes !== undefined,
    );
    this.gate = new AccessGate(owner, options, (message, reason, detail) =>
      host.deadLetters.record(reason, detail, message),
    );
  }

  get address(): Address {
    return this.addresses[0]!;
  }

  /** Whether the worker takes a `ByteParts` body unjoined (see `Worker.takesByteParts`). */
  get takesByteParts(): boolean {
    return this.worker.takesByteParts === true;
  }

  /** Whether it may take another address: it has not begun to stop. */
  get takesAddresses(): boolean {
    return this.state.is === 'initializing' || this.isRunning;
  }

  get isRunning(): boolean {
    return this.state.is === 'idle' || this.state.is === 'busy';
  }

  /** Messages queued and not yet handled. */
  get queued(): number {
    return this.mailbox.length;
  }

  /** Runs `initialize`; on failure the worker is stopped and the error rethrown as INITIALIZE_FAILED. */
  async start(): Promise<void> {
    try {
      await this.worker.initialize?.(this.ctx);
    } catch (cause) {
      this.logger.error({ err: cause }, 'worker initialize failed; stopping it');
      await this.stop();
      throw new NodeError('INITIALIZE_FAILED', `worker ${this.address.key} failed to initialize`, { cause });
    }
    if (this.state !== INITIALIZING) return; // stopped while initializing
    this.state = IDLE;
    this.scheduleIfReady();
  }

  deliver(message: LocalMessage): Delivery {
    if (this.state === STOPPING || this.state === STOPPED) {
      return this.host.deadLetters.record(
        'worker-stopped',
        `worker ${this.address.key} has stopped`,
        message,
      );
    }
    const bounded = this.options.queueBytes;
    let size = 0;
    if (bounded !== undefined) {
      size = bounded.sizeOf(message);
      // Only what came from outside is refused; a sender on this node waits for room as usual (its bytes
      // count all the same), so the bound never turns local backpressure into loss.
      if (cameFromTransport(message)) {
        // Relayed: never waits (that would pause the connection it came by, and with it that connection's
        // traffic to every other destination), so it is bounded in bytes, each message charged a fixed
        // overhead beside its size; beyond, it is dropped as CONGESTED and its sender told. A burst within
        // the bound is carried whole, however many messages it has.
        size += RELAYED_MESSAGE_OVERHEAD;
        if (this.mailbox.wouldExceed(size, bounded.limit)) {
          const queued = this.mailbox.bytes;
          const refused = this.host.deadLetters.record(
            'undeliverable',
            `the queue of ${this.address.key} holds ${queued} bytes: one more message of ${size} would exceed its ${bounded.limit}`,
            message,
            { code: 'CONGESTED' },
          );
          bounded.onRefused?.(message, queued);
          return refused;
        }
        this.mailbox.push(message, size);
        this.scheduleIfReady();
        return QUEUED;
      }
    }
    const waiting = this.mailbox.offer(message, size);
    this.scheduleIfReady();
    return waiting === undefined ? QUEUED : backpressure(waiting);
  }

  runTurn(budget: number): number {
    this.scheduled = false;
    let processed = 0;
    while (processed < budget && this.state === IDLE) {
      const message = this.mailbox.take();
      if (message === undefined) break;
      processed++;
      this.process(message);
    }
    this.scheduleIfReady();
    return processed;
  }

  /**
   * Stops the worker: waits (at most `stopTimeoutMs`) for the handler in flight, drops what is still
   * queued (as dead letters), runs `shutdown`. Stop goes ahead of queued messages. Idempotent.
   */
  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    const announce = this.state !== INITIALIZING;
    if (this.state === BUSY) {
      // A handler that never settles must not hang the node's stop: wait a bounded time, then go on.
      let timer: NodeJS.Timeout | undefined;
      const idle = await Promise.race([
        new Promise<boolean>((resolve) => (this.state = { is: 'draining', idle: () => resolve(true) })),
        new Promise<boolean>(
          (resolve) => (timer = setTimeout(() => resolve(false), this.host.stopTimeoutMs)),
        ),
      ]);
      clearTimeout(timer);
      if (!idle) {
        this.logger.warn(
          { timeoutMs: this.host.stopTimeoutMs },
          'handler still running at stop; stopping anyway',
        );
      }
    }
    this.state = STOPPING;
    this.host.release(this, announce);
    this.mailbox.close(new NodeError('WORKER_STOPPED', `worker ${this.address.key} stopped`), (message) =>
      this.host.deadLetters.record(
        'worker-stopped',
        `worker ${this.address.key} stopped with it queued`,
        message,
      ),
    );
    try {
      await this.worker.shutdown?.(this.ctx);
    } catch (err) {
      this.logger.error({ err }, 'worker shutdown failed');
    }
    this.state = STOPPED;
  }

  private scheduleIfReady(): void {
    if (!this.scheduled && this.state === IDLE && this.stopped === undefined && this.mailbox.length > 0) {
      this.scheduled = true;
      this.host.scheduler.schedule(this);
    }
  }

  /** The gate, then the handler; either may go asynchronous, and the worker is busy until it settles. */
  private process(message: LocalMessage): void {
    const admitted = this.gate.check(message);
    if (admitted === false) return;
    if (admitted !== true) {
      this.enter(admitted.then((ok) => (ok ? this.handle(message) : undefined)));
      return;
    }
    let result: void | Promise<unknown>;
    try {
      result = this.handle(message);
    } catch (err) {
      this.handlerFailed(err);
      return;
    }
    if (result !== undefined && typeof (result as Promise<unknown>).then === 'function') this.enter(result);
  }

  private handle(message: LocalMessage): void | Promise<unknown> {
    const { tracing } = this.host;
    if (tracing === undefined) return this.worker.handleMessage(this.ctx, message);
    return tracing.handle(message, this.address.value, () => this.worker.handleMessage(this.ctx, message));
  }

  /** Marks the worker busy until `pending` settles. */
  private enter(pending: Promise<unknown>): void {
    this.state = BUSY;
    pending.then(this.settled, this.failedAsync);
  }

  private readonly failedAsync = (err: unknown): void => {
    this.handlerFailed(err);
    this.settled();
  };

  private readonly settled = (): void => {
    const state = this.state;
    if (state.is === 'draining') {
      state.idle();
      return;
    }
    if (state !== BUSY) return; // stopped meanwhile (the stop timed out waiting)
    this.state = IDLE;
    // Settled in a promise reaction of its own: the next message may be taken in it.
    if (!this.scheduled && this.stopped === undefined && this.mailbox.length > 0) {
      this.scheduled = true;
      this.host.scheduler.scheduleFromMicrotask(this);
    }
  };

  private handlerFailed(err: unknown): void {
    this.logger.error({ err }, 'worker handler failed; the worker carries on');
  }
}
