import { TRANSPORT_INFO, type LocalMessage } from '../core/message';
import type { Address } from '../core/address';
import type { Context } from './context';
import type { DeadLetters } from './dead-letters';
import { NodeError } from './errors';
import type { Logger } from './logger';
import { Mailbox } from './mailbox';
import type { Deliverable } from './router';
import type { Runnable, Scheduler } from './scheduler';
import type { AccessRule, Worker, WorkerOptions } from './worker';

type CellState = 'initializing' | 'running' | 'stopping' | 'stopped';

/** A bounded mailbox takes relayed messages up to this many times its capacity (see `deliver`). */
const RELAYED_SLACK = 8;
/** What a cell needs from its node. */
export interface CellHost {
  readonly scheduler: Scheduler;
  readonly deadLetters: DeadLetters;
  readonly sendTimeoutMs: number;
  readonly defaultMailboxCapacity: number;
  /** How long stop waits for a handler in flight. */
  readonly stopTimeoutMs: number;
  /** Removes the cell's addresses from the router once it has stopped taking messages. */
  release(cell: WorkerCell): void;
}

const NO_RULES: readonly AccessRule[] = [];

/**
 * One running worker: its mailbox, its place in the scheduler and its lifecycle
 * (initialize -> handle messages one at a time -> shutdown). Internal to the node.
 */
export class WorkerCell implements Deliverable, Runnable {
  private state: CellState = 'initializing';
  private scheduled = false;
  /** A handler (or an async access check) is in flight: no other message may start. */
  private busy = false;
  private stopRequested = false;
  /** It got past `initialize` (so its stop is announced). */
  started = false;
  private whenIdle: (() => void) | undefined;
  private stopped: Promise<void> | undefined;
  private readonly mailbox: Mailbox;
  private readonly rules: readonly AccessRule[];
  private readonly acceptsTransport: boolean;

  constructor(
    private readonly host: CellHost,
    readonly addresses: readonly Address[],
    readonly worker: Worker,
    readonly options: WorkerOptions,
    readonly ctx: Context,
    private readonly logger: Logger,
  ) {
    const access = options.access;
    this.rules = access === undefined ? NO_RULES : Array.isArray(access) ? access : [access as AccessRule];
    this.acceptsTransport = options.acceptsTransportMessages ?? false;
    this.mailbox = new Mailbox(
      addresses[0]!.key,
      options.mailboxCapacity ?? host.defaultMailboxCapacity,
      host.sendTimeoutMs,
      options.queueBytes !== undefined,
    );
  }

  get address(): Address {
    return this.addresses[0]!;
  }

  get isRunning(): boolean {
    return this.state === 'running';
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
    if (this.state !== 'initializing') return; // stopped while initializing
    this.state = 'running';
    this.started = true;
    this.scheduleIfReady();
  }

  deliver(message: LocalMessage): Promise<void> | undefined {
    if (this.state === 'stopping' || this.state === 'stopped') {
      this.host.deadLetters.record('worker-stopped', `worker ${this.address.key} has stopped`, message);
      return undefined;
    }
    const bounded = this.options.queueBytes;
    let size = 0;
    if (bounded !== undefined) {
      size = bounded.sizeOf(message);
      // Only what came from outside is refused; a sender on this node waits for room as usual (its bytes
      // count all the same), so the bound never turns local backpressure into loss.
      if (message.localInfo[TRANSPORT_INFO] !== undefined) {
        // Relayed: never waits (that would pause the connection it came by, and with it that connection's
        // traffic to every other destination), so it is bounded in bytes, and in messages at a multiple of
        // the capacity; beyond, it is dropped as CONGESTED and its sender told.
        const over = this.mailbox.wouldExceed(size, bounded.limit);
        if (over || this.mailbox.length >= this.mailbox.capacity * RELAYED_SLACK) {
          const queued = this.mailbox.bytes;
          this.host.deadLetters.record(
            'undeliverable',
            over
              ? `the queue of ${this.address.key} holds ${queued} bytes: one more message of ${size} would exceed its ${bounded.limit}`
              : `the queue of ${this.address.key} holds ${this.mailbox.length} messages`,
            message,
            { code: 'CONGESTED' },
          );
          bounded.onRefused?.(message, queued);
          return undefined;
        }
        this.mailbox.push(message, size);
        this.scheduleIfReady();
        return undefined;
      }
    }
    const waiting = this.mailbox.offer(message, size);
    this.scheduleIfReady();
    return waiting;
  }

  runTurn(budget: number): number {
    this.scheduled = false;
    let processed = 0;
    while (processed < budget && !this.busy && this.state === 'running' && !this.stopRequested) {
      const message = this.mailbox.take();
      if (message === undefined) break;
      processed++;
      this.process(message);
    }
    this.scheduleIfReady();
    return processed;
  }

  /**
   * Stops the worker: waits for the handler in flight, drops what is still queued (as dead letters), runs
   * `shutdown`. Stop goes ahead of queued messages. Idempotent.
   */
  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    this.stopRequested = true;
    if (this.busy) {
      // A handler that never settles must not hang the node's stop: wait a bounded time, then go on.
      let timer: NodeJS.Timeout | undefined;
      const idle = await Promise.race([
        new Promise<boolean>((resolve) => (this.whenIdle = () => resolve(true))),
        new Promise<boolean>(
          (resolve) => (timer = setTimeout(() => resolve(false), this.host.stopTimeoutMs)),
        ),
      ]);
      clearTimeout(timer);
      if (!idle)
        this.logger.warn(
          { timeoutMs: this.host.stopTimeoutMs },
          'handler still running at stop; stopping anyway',
        );
    }
    this.state = 'stopping';
    this.host.release(this);
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
    this.state = 'stopped';
  }

  private scheduleIfReady(): void {
    if (
      !this.scheduled &&
      !this.busy &&
      this.state === 'running' &&
      !this.stopRequested &&
      this.mailbox.length > 0
    ) {
      this.scheduled = true;
      this.host.scheduler.schedule(this);
    }
  }

  private process(message: LocalMessage): void {
    if (!this.acceptsTransport && message.localInfo[TRANSPORT_INFO] !== undefined) {
      this.deny(message, 'transport-origin', 'it arrived from a transport connection');
      return;
    }
    for (let i = 0; i < this.rules.length; i++) {
      const rule = this.rules[i]!;
      let verdict: boolean | string | Promise<boolean | string>;
      try {
        verdict = rule.check(message);
      } catch (err) {
        verdict = `the rule threw: ${String(err)}`;
      }
      if (verdict === true) continue;
      if (typeof verdict === 'object') {
        // An asynchronous rule: hold the mailbox until it answers, then carry on with the remaining rules.
        // A rejected check is a refusal, like a throwing one: the message is dead-lettered, not lost.
        this.enter(
          verdict.then(
            (answer) =>
              answer === true ? this.checkFrom(message, i + 1) : this.deny(message, rule.name, answer),
            (err: unknown) => this.deny(message, rule.name, `the rule threw: ${String(err)}`),
          ),
        );
        return;
      }
      this.deny(message, rule.name, verdict);
      return;
    }
    this.handle(message);
  }

  /** The asynchronous tail of `process`: rules from `index` on, then the handler. */
  private async checkFrom(message: LocalMessage, index: number): Promise<void> {
    for (let i = index; i < this.rules.length; i++) {
      const rule = this.rules[i]!;
      let verdict: boolean | string;
      try {
        verdict = await rule.check(message);
      } catch (err) {
        verdict = `the rule threw: ${String(err)}`;
      }
      if (verdict !== true) return this.deny(message, rule.name, verdict);
    }
    if (!this.acceptsBody(message.body)) return this.wrongType(message);
    await this.worker.handleMessage(this.ctx, message);
  }

  private handle(message: LocalMessage): void {
    if (!this.acceptsBody(message.body)) {
      this.wrongType(message);
      return;
    }
    let result: void | Promise<void>;
    try {
      result = this.worker.handleMessage(this.ctx, message);
    } catch (err) {
      this.handlerFailed(err);
      return;
    }
    if (result !== undefined && typeof (result as Promise<void>).then === 'function') this.enter(result);
  }

  /**
   * Whether the declared codec accepts the body. A guard that throws (say, on a null body from a peer)
   * refuses it: the throw would otherwise escape the scheduler and end the process.
   */
  private acceptsBody(body: unknown): boolean {
    const codec = this.options.message;
    if (codec === undefined) return true;
    try {
      return codec.accepts(body);
    } catch {
      return false;
    }
  }

  /** Marks the worker busy until `pending` settles. */
  private enter(pending: Promise<void>): void {
    this.busy = true;
    pending.then(this.settled, (err: unknown) => {
      this.handlerFailed(err);
      this.settled();
    });
  }

  private readonly settled = (): void => {
    this.busy = false;
    if (this.whenIdle !== undefined) {
      const resolve = this.whenIdle;
      this.whenIdle = undefined;
      resolve();
      return;
    }
    this.scheduleIfReady();
  };

  private handlerFailed(err: unknown): void {
    this.logger.error({ err }, 'worker handler failed; the worker carries on');
  }

  private deny(message: LocalMessage, rule: string, verdict: false | string): void {
    const reason = typeof verdict === 'string' ? verdict : 'refused';
    this.host.deadLetters.record(
      'access-denied',
      `${this.address.key} refused a message (${rule}): ${reason}`,
      message,
    );
  }

  private wrongType(message: LocalMessage): void {
    this.host.deadLetters.record(
      'wrong-body-type',
      `${this.address.key} accepts ${this.options.message!.name} bodies only`,
      message,
    );
  }
}
