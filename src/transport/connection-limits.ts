import { ByteParts } from '../core/byte-parts';
import { encodedBodySize } from '../core/codec';
import type { LocalMessage } from '../core/message';
import { ByteBudget } from '../node/byte-budget';
import type { QueueBytes } from '../node/worker';
import type { ConnectionGate, Admission } from './connection-gate';
import type { ConnectionOptions } from './connection-options';
import type { StreamConnection } from './stream-connection';
import type { ThrottledLog } from './throttled-log';

/** Counters of a stream transport's defences (each hit is also logged, throttled). */
export interface StreamTransportStats {
  /** Connections closed because the node's partial frames would exceed `maxPartialFrameBytes`. */
  partialFrameBudgetClosed: number;
  /** Messages toward a connection refused because its queue held `maxQueuedBytesPerConnection`. */
  queueBytesRefused: number;
  /** Unvouched connections closed to admit a newcomer to a full listener. */
  evictedUnvouched: number;
  /** Accepted connections closed because nobody vouched for them within `unvouchedTimeoutMs`. */
  unvouchedTimedOut: number;
}

/**
 * What a message queued toward a connection stands for, in bytes: its body as encoded (strings counted at
 * their worst, 3 bytes a character, to stay O(1)) and its routes.
 */
function queuedSize(message: LocalMessage): number {
  const body = message.body;
  const bodySize =
    body instanceof Uint8Array || body instanceof ByteParts
      ? body.length
      : typeof body === 'string'
        ? body.length * 3
        : encodedBodySize(body);
  return bodySize + 64 * (message.onwardRoute.length + message.returnRoute.length);
}

/**
 * The bounds a stream transport keeps across its connections, so that what a peer can make the node hold
 * is bounded the same on every stream: one budget of partial frames (the connection holding the most
 * closes first), a byte bound on each connection's queue, and eviction of unvouched connections when a
 * listener is full. Counts each hit in `stats`.
 */
export class ConnectionLimits {
  readonly stats: StreamTransportStats = {
    partialFrameBudgetClosed: 0,
    queueBytesRefused: 0,
    evictedUnvouched: 0,
    unvouchedTimedOut: 0,
  };
  /** Partial frames held by all connections (`maxPartialFrameBytes`). */
  readonly partialFrames: ByteBudget;
  /** Accepted connections, oldest first, with their place at a listener. */
  private readonly accepted = new Map<StreamConnection, Admission>();

  constructor(
    private readonly options: Required<ConnectionOptions>,
    private readonly peerLog: ThrottledLog,
    /** Every live connection of the transport. */
    private readonly live: () => Iterable<StreamConnection>,
  ) {
    this.partialFrames = new ByteBudget(options.maxPartialFrameBytes, 'maxPartialFrameBytes');
  }

  /** A listener admitted `connection`, holding a place at its gate. */
  admitted(connection: StreamConnection, admission: Admission): void {
    this.accepted.set(connection, admission);
  }

  /** `connection` closed. Its place at the listener is given back when its stream closes (the listener's doing). */
  closed(connection: StreamConnection): void {
    this.accepted.delete(connection);
  }

  /**
   * A full listener makes room: closes the oldest unvouched connection its gate admitted from `ip`, or (no
   * ip) from the remote holding the most, and gives its place back.
   */
  evictUnvouched(gate: ConnectionGate, ip: string | undefined): void {
    let victim: StreamConnection | undefined;
    if (ip === undefined) {
      const perIp = new Map<string, { count: number; oldest: StreamConnection }>();
      let most: { count: number; oldest: StreamConnection } | undefined;
      for (const [connection, from] of this.accepted) {
        if (from.gate !== gate || connection.isVouched) continue;
        let entry = perIp.get(from.ip);
        if (entry === undefined) perIp.set(from.ip, (entry = { count: 0, oldest: connection }));
        entry.count++;
        if (most === undefined || entry.count > most.count) most = entry;
      }
      victim = most?.oldest;
    } else {
      for (const [connection, from] of this.accepted) {
        if (from.gate === gate && from.ip === ip && !connection.isVouched) {
          victim = connection;
          break;
        }
      }
    }
    if (victim === undefined) return;
    const admission = this.accepted.get(victim)!;
    this.stats.evictedUnvouched++;
    victim.evict('evicted to admit a newcomer: the listener is full and nobody vouched for this connection');
    admission.release();
  }

  /**
   * Charges `bytes` more of partial frames held by `connection` to the budget, making room by closing the
   * connection that holds the most; false if that is `connection` itself.
   */
  chargePartialFrames(connection: StreamConnection, bytes: number): boolean {
    const budget = this.partialFrames;
    while (budget.wouldExceed(bytes)) {
      // Whoever holds the most is the likeliest offender: honest traffic is mostly small frames.
      let largest: StreamConnection | undefined;
      let most = connection.partialFrameBytes + bytes;
      for (const other of this.live()) {
        if (other !== connection && other.partialFrameBytes > most) {
          most = other.partialFrameBytes;
          largest = other;
        }
      }
      this.stats.partialFrameBudgetClosed++;
      budget.exceeded++;
      if (largest === undefined) return false;
      largest.evict(
        `the node's partial frames would exceed maxPartialFrameBytes (${budget.limit}), and this connection holds the most (${most} bytes)`,
      );
    }
    budget.charge(bytes);
    return true;
  }

  /** The byte bound on the queue of `connection`'s worker (`maxQueuedBytesPerConnection`). */
  queueBytes(connection: StreamConnection): QueueBytes {
    return {
      limit: this.options.maxQueuedBytesPerConnection,
      sizeOf: queuedSize,
      onRefused: (_message, queued) => {
        this.stats.queueBytesRefused++;
        this.peerLog.warn(
          { connection: connection.address.value, remote: connection.remote, queued },
          `a message toward ${connection.remote} was refused: its queue holds ${queued} bytes (maxQueuedBytesPerConnection)`,
        );
      },
    };
  }
}
