import type { Codec } from '../core/codec';
import type { LocalMessage, Routed } from '../core/message';
import type { Context } from './context';

/**
 * A worker: an actor with one or more addresses. The node calls `initialize` once, then `handleMessage` for
 * each message in order, never two at a time, then `shutdown` when it stops. An error thrown by
 * `handleMessage` is logged with the worker's address and the worker lives on; an error thrown by
 * `initialize` stops the worker.
 */
export interface Worker<T = unknown> {
  initialize?(ctx: Context): void | Promise<void>;
  /** Handles one message; a returned promise holds the next message back until it settles. */
  handleMessage(ctx: Context, message: Routed<T>): void | Promise<unknown>;
  shutdown?(ctx: Context): void | Promise<void>;
  /**
   * @internal True for a worker that takes a `ByteParts` body as it is (a stream connection, which gathers
   * the parts into its write; a hub's forwarder, which passes the body on unread); every other worker gets
   * such a body joined into one `Uint8Array`.
   */
  readonly takesByteParts?: boolean;
}

/**
 * An incoming access rule. A message is delivered only if every rule of the worker authorizes it; a refusal
 * is dropped, counted and logged with the rule's name and reason.
 */
export interface AccessRule {
  /** Shown in logs and dead letters. */
  readonly name: string;
  /** `true` to allow; `false` or a reason string to refuse. */
  check(message: LocalMessage): boolean | string | Promise<boolean | string>;
}

/** How a worker is started. */
export interface WorkerOptions<T = unknown> {
  /** The codec of the bodies it accepts; others are dropped as `wrong-body-type`. Default: any body. */
  readonly message?: Codec<T>;
  /** Incoming access rules (all must allow). */
  readonly access?: AccessRule | readonly AccessRule[];
  /**
   * Whether messages that arrived from a transport connection (not from a worker on this node) may reach
   * it. Default false: only workers that expect network traffic (secure channel listeners and decryptors,
   * a hub's services, the transports themselves) opt in, so a hostile peer cannot drive other workers.
   */
  readonly acceptsTransportMessages?: boolean;
  /** Mailbox capacity; senders wait when it is full. Default: the node's `mailboxCapacity`. */
  readonly mailboxCapacity?: number;
  /**
   * A bound in bytes on what the mailbox holds (queued, and waiting for room), for a worker fed from outside
   * whose consumer may stop reading (a transport connection): a message that arrived from a transport never
   * waits for room (that would pause the connection it came by, and all its traffic to other destinations);
   * it is queued at once, charged its size plus a fixed per-message overhead, and if it would take the
   * mailbox over `limit` bytes it is dead-lettered instead (`undeliverable`, code `CONGESTED`), so the relaying worker
   * does not wait and nothing piles up behind it. Messages from this node's own workers count
   * toward the bound but are never refused for it: their senders wait, as for a full mailbox. One message
   * always fits an empty mailbox. Default: none (messages only).
   */
  readonly queueBytes?: QueueBytes;
}

/** See `WorkerOptions.queueBytes`. */
export interface QueueBytes {
  readonly limit: number;
  /** The bytes a message stands for (say, its encoded size). Called once per message, so keep it cheap. */
  sizeOf(message: LocalMessage): number;
  /** Told of each message refused for the bound (after it is dead-lettered). */
  onRefused?(message: LocalMessage, queuedBytes: number): void;
}

/** An access rule that allows everything (the default). */
export const allowAll: AccessRule = { name: 'allow-all', check: () => true };

/** An access rule that refuses everything (useful for send-only workers). */
export const denyAll: AccessRule = { name: 'deny-all', check: () => 'this worker accepts no messages' };
