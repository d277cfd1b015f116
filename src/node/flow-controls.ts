import type { Address } from '../core/address';
import { originOf, type LocalMessage } from '../core/message';
import type { DeadLetters } from './dead-letters';

/** Counters of a node's flow controls. */
export interface FlowControlStats {
  /** Messages from outside refused at a way out of the node (a connection, a TCP hop, an encryptor). */
  refused: number;
  /** Allowances currently held (`allow` and `join` both count one each). */
  allowances: number;
  /** Joins dropped, oldest first, to keep a producer within `maxJoinsPerProducer`. */
  evicted: number;
}

/** The default of `NodeOptions.maxJoinsPerProducer`. */
export const DEFAULT_MAX_JOINS_PER_PRODUCER = 256;

/**
 * Where a message that came from outside this node may leave it again, in the spirit of Ockam's flow
 * controls. Every message from outside carries its origin (`originOf`): the connection it arrived on and
 * each secure channel that decrypted it. The ways out of a node (a TCP connection, the TCP transport's
 * router, a secure channel's encryptor) call `mayEnter` and take such a message only if
 *
 * - it goes back into the producer it came out of (a reply on the connection it came on, into the channel
 *   it came from), or
 * - an explicit allowance says that the producer's messages may reach that consumer: `allow(producer,
 *   consumer)`, one way, as an application grants to bridge two channels; or `join(from, to)`, both ways,
 *   as a hub's forwarder grants between the connection a message came by and its client's connection.
 *
 * A message created on this node (no origin) may go anywhere. Allowances die with either end (`forget`,
 * called when a worker stops). Joins are held by the side that asked for them (`from`, the connection that
 * sent through a forwarder) and capped per such producer (`maxJoinsPerProducer`, oldest dropped first), so
 * that no client can make a hub hold more than that for it. Refusals become `access-denied` dead letters,
 * counted here too.
 */
export class FlowControls {
  readonly stats: FlowControlStats = { refused: 0, allowances: 0, evicted: 0 };
  /** One-way allowances: producer key -> consumer keys, and the reverse index. */
  private readonly allowed = new Links();
  /** Joins, held by the producer that asked: from key -> to keys (in the order made), and the reverse. */
  private readonly joins = new Links();

  constructor(
    private readonly deadLetters: DeadLetters,
    private readonly maxJoinsPerProducer = DEFAULT_MAX_JOINS_PER_PRODUCER,
  ) {}

  /** Lets messages produced by `producer` (a connection, a channel's encryptor address) enter `consumer`. */
  allow(producer: Address, consumer: Address): void {
    if (producer.key !== consumer.key && this.allowed.add(producer.key, consumer.key)) {
      this.stats.allowances++;
    }
  }

  /**
   * Lets messages from `from` enter `to` and the other way round (replies come back the way a relayed
   * message went). Held by `from`: it keeps at most `maxJoinsPerProducer`, and a join made again becomes the
   * newest.
   */
  join(from: Address, to: Address): void {
    if (from.key === to.key) return;
    const fresh = this.joins.add(from.key, to.key, true);
    if (!fresh) return;
    this.stats.allowances++;
    const held = this.joins.from(from.key)!;
    if (held.size > this.maxJoinsPerProducer) {
      const oldest = held.values().next().value as string;
      this.joins.remove(from.key, oldest);
      this.stats.allowances--;
      this.stats.evicted++;
    }
  }

  /** Whether messages produced by `producer` may enter `consumer`. */
  allows(producer: Address, consumer: Address): boolean {
    const p = producer.key;
    const c = consumer.key;
    return p === c || this.allowed.has(p, c) || this.joins.has(p, c) || this.joins.has(c, p);
  }

  /**
   * Whether `message` may enter the way out at `consumer`: yes if it was made on this node, if it goes back
   * into the producer it last came out of, or if that producer was allowed to reach `consumer`.
   */
  mayEnter(message: LocalMessage, consumer: Address): boolean {
    const origin = originOf(message);
    return origin === undefined || this.allows(origin.last.producer, consumer);
  }

  /**
   * `mayEnter`, and when it may not, the refusal recorded as an `access-denied` dead letter saying which way
   * out refused what (`what`: "connection to host:port", say).
   */
  admit(message: LocalMessage, consumer: Address, what: string): boolean {
    if (this.mayEnter(message, consumer)) return true;
    this.stats.refused++;
    this.deadLetters.record(
      'access-denied',
      `${what} does not carry on a message from ${originOf(message)!.toString()} (no flow control allows it)`,
      message,
    );
    return false;
  }

  /** Drops every allowance to or from `address` (its worker stopped). */
  forget(address: Address): void {
    if (this.stats.allowances === 0) return;
    this.stats.allowances -= this.allowed.forget(address.key) + this.joins.forget(address.key);
  }
}

/** Links between address keys, indexed both ways. */
class Links {
  private readonly forward = new Map<string, Set<string>>();
  private readonly backward = new Map<string, Set<string>>();

  /** Adds a link; with `refresh`, an existing one moves to the newest place. True if it is new. */
  add(from: string, to: string, refresh = false): boolean {
    let set = this.forward.get(from);
    if (set === undefined) this.forward.set(from, (set = new Set()));
    if (set.has(to)) {
      if (refresh) {
        set.delete(to);
        set.add(to);
      }
      return false;
    }
    set.add(to);
    let back = this.backward.get(to);
    if (back === undefined) this.backward.set(to, (back = new Set()));
    back.add(from);
    return true;
  }

  has(from: string, to: string): boolean {
    return this.forward.get(from)?.has(to) ?? false;
  }

  from(key: string): ReadonlySet<string> | undefined {
    return this.forward.get(key);
  }

  remove(from: string, to: string): void {
    unlink(this.forward, from, to);
    unlink(this.backward, to, from);
  }

  /** Removes every link from or to `key`; returns how many there were. */
  forget(key: string): number {
    let removed = 0;
    const targets = this.forward.get(key);
    if (targets !== undefined) {
      this.forward.delete(key);
      for (const to of targets) if (unlink(this.backward, to, key)) removed++;
    }
    const sources = this.backward.get(key);
    if (sources !== undefined) {
      this.backward.delete(key);
      for (const from of sources) if (unlink(this.forward, from, key)) removed++;
    }
    return removed;
  }
}

function unlink(index: Map<string, Set<string>>, from: string, to: string): boolean {
  const set = index.get(from);
  if (set === undefined || !set.delete(to)) return false;
  if (set.size === 0) index.delete(from);
  return true;
}
