import type { Address } from '../core/address';
import { MAX_TIMER_MS, resolveOptions } from '../core/options';
import { NodeError } from './errors';
import { FAILURE_NOTICE_DEFAULTS } from './failure-notices';
import { DEFAULT_MAX_JOINS_PER_PRODUCER } from './flow-controls';
import type { Logger } from './logger';
import type { SchedulerOptions } from './scheduler';
import type { Worker, WorkerOptions } from './worker';

/**
 * How a node is configured. Every field has a default; a numeric field out of its range makes the
 * constructor throw `NodeError` `INVALID_OPTION`, naming the option and the range.
 */
export interface NodeOptions extends SchedulerOptions {
  /** Where the node logs. Default: pino on standard error, level from `SEALROUTE_LOG`. */
  readonly logger?: Logger;
  /** Messages a worker's mailbox holds before senders wait: 1..2^30. Default 1024. */
  readonly mailboxCapacity?: number;
  /** How long a sender waits for room in a full mailbox before `MAILBOX_FULL`. Default 30 s. */
  readonly sendTimeoutMs?: number;
  /** Default timeout of `receive` and `request`. Default 30 s. */
  readonly defaultTimeoutMs?: number;
  /** How long stopping a worker waits for its handler in flight. Default 5 s. */
  readonly stopTimeoutMs?: number;
  /**
   * Joins (see `FlowControls.join`: a hub's forwarder joining the connection a message came by with its
   * client's) one producer holds at once; the oldest is dropped beyond it. Default 256.
   */
  readonly maxJoinsPerProducer?: number;
  /** Builds workers from classes (`startWorker(Class)`); `createNode()` installs a dependency injector. */
  readonly workerFactory?: WorkerFactory;
  /**
   * Delivery failure notices this node sends per second toward one return route's first hop, about
   * requests it dropped (docs/PROTOCOL.md 2.1); the node-wide cap is ten times this. 0 sends none.
   * Default 100.
   */
  readonly failureNoticesPerSecond?: number;
  /** Carry OpenTelemetry trace context across hops and open spans for it (node/tracing.ts). Default off. */
  readonly tracing?: boolean;
}

/** The largest mailbox a worker may have: a bound on memory, far above any useful queue. */
export const MAX_MAILBOX_CAPACITY = 1 << 30;

const invalidOption = (message: string): NodeError => new NodeError('INVALID_OPTION', message);

const MAX_BUDGET = Number.MAX_SAFE_INTEGER;

/** Every option of a node: its default and its range. */
const NODE_OPTIONS = {
  mailboxCapacity: { default: 1024, min: 1, max: MAX_MAILBOX_CAPACITY },
  sendTimeoutMs: { default: 30_000, min: 0, max: MAX_TIMER_MS },
  defaultTimeoutMs: { default: 30_000, min: 0, max: MAX_TIMER_MS },
  stopTimeoutMs: { default: 5_000, min: 0, max: MAX_TIMER_MS },
  turnBudget: { default: 64, min: 1, max: MAX_BUDGET },
  yieldBudget: { default: 8192, min: 1, max: MAX_BUDGET },
  dispatcher: { default: 'scheduled', oneOf: ['scheduled', 'inline'] as const },
  failureNoticesPerSecond: { default: FAILURE_NOTICE_DEFAULTS.perRoutePerSecond, min: 0, max: MAX_BUDGET },
  maxJoinsPerProducer: { default: DEFAULT_MAX_JOINS_PER_PRODUCER, min: 1, max: MAX_BUDGET },
} as const;

/** The options of a worker checked where it is started (a mailbox capacity out of range fails there). */
const WORKER_OPTIONS = {
  mailboxCapacity: { default: 0, min: 1, max: MAX_MAILBOX_CAPACITY },
} as const;

/** Checks the options a worker is started with: `NodeError` `INVALID_OPTION` for one out of its range. */
export function checkWorkerOptions(options: WorkerOptions<unknown>): void {
  resolveOptions('WorkerOptions', WORKER_OPTIONS, options, invalidOption);
}

/** A class whose instances are workers. */
export type WorkerConstructor = abstract new (...args: never[]) => Worker<never>;

/** What a worker factory makes of a class: the instance, its default addresses and its options. */
export interface BuiltWorker {
  readonly worker: Worker<unknown>;
  readonly addresses: readonly string[];
  readonly options: WorkerOptions<unknown>;
}

/** Makes worker instances from classes (see `createNode` in di/). */
export type WorkerFactory = (workerClass: WorkerConstructor) => BuiltWorker;

/** Overrides for a worker started from a class. */
export interface StartClassOptions extends WorkerOptions<unknown> {
  /** Replaces the address(es) declared in `@Worker({ address })`. */
  readonly address?: string | Address | readonly (string | Address)[];
}

/** The options of a node, each checked against its range and defaulted (`NodeError` `INVALID_OPTION`). */
export function resolveNodeOptions(options: NodeOptions) {
  return resolveOptions('NodeOptions', NODE_OPTIONS, options, invalidOption);
}

/** Events a node emits. */
export interface NodeEvents {
  /** A worker started (after `initialize`). */
  workerStarted: [Address];
  /** A worker stopped (after `shutdown`). */
  workerStopped: [Address];
  /**
   * The node is about to stop: emitted first thing in `stop()`, while messages can still be sent (secure
   * channels send their CLOSE here). Listeners must not wait: the stop goes on at once.
   */
  stopping: [];
  /** The node stopped. */
  stopped: [];
}
