import type { Address } from '../core/address';
import { originOf, type LocalMessage } from '../core/message';
import type { DeadLetters } from './dead-letters';

/** Counters of a node's flow controls. */
export interface FlowControlStats {
  /** Messages from outside refused at a way out of the node (a connection, a TCP hop, an encryptor). */
  refused: number;
  /** Producer-to-consumer allowances currently held. */
  allowances: number;
}

/**
 * Where a message that came from outside this node may leave it again, in the spirit of Ockam's flow
 * controls. Every message from outside carries its origin (`originOf`): the connection it arrived on and
 * each secure channel that decrypted it. The ways out of a node (a TCP connection, the TCP transport's
 * router, a secure channel's encryptor) call `mayEnter` and take such a message only if
 *
 * - it goes back into the producer it came out of (a reply on the connection it came on, into the channel
 *   it came from), or
 * - an explicit allowance says that the producer's messages may reach that consumer (`allow`): a hub's
 *   forwarder grants one between the two connections it joins; an application may grant one between two
 *   channels it means to bridge.
 *
 * A message created on this node (no origin) may go anywhere. Allowances die with either end (`forget`, called
 * when a worker stops). Refusals become `access-denied` dead letters, counted here too.
 */
export class FlowControls {
  readonly stats: FlowControlStats = { refused: 0, allowances: 0 };
  /** producer key -> consumer keys. */
  private readonly consumers = new Map<string, Set<string>>();
  /** consumer key -> producer keys, to forget a consumer without a scan. */
  private readonly producers = new Map<string, Set<string>>();

  constructor(private readonly deadLetters: DeadLetters) {}

  /** Lets messages produced by `producer` (a connection, a channel's encryptor address) enter `consumer`. */
  allow(producer: Address, consumer: Address): void {
    if (producer.key === consumer.key) return;
    let set = this.consumers.get(producer.key);
    if (set === undefined) this.consumers.set(producer.key, (set = new Set()));
    if (set.has(consumer.key)) return;
    set.add(consumer.key);
    let back = this.producers.get(consumer.key);
    if (back === undefined) this.producers.set(consumer.key, (back = new Set()));
    back.add(producer.key);
    this.stats.allowances++;
  }

  /** `allow` both ways: replies may come back the way a relayed message went. */
  join(a: Address, b: Address): void {
    this.allow(a, b);
    this.allow(b, a);
  }

  /** Whether messages produced by `producer` may enter `consumer`. */
  allows(producer: Address, consumer: Address): boolean {
    return producer.key === consumer.key || (this.consumers.get(producer.key)?.has(consumer.key) ?? false);
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
   * out refused what (`what`: "connection tcp.c.… to host:port", say).
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
    if (this.consumers.size === 0) return;
    const key = address.key;
    const consumers = this.consumers.get(key);
    if (consumers !== undefined) {
      this.consumers.delete(key);
      for (const consumer of consumers) this.unlink(this.producers, consumer, key);
    }
    const producers = this.producers.get(key);
    if (producers !== undefined) {
      this.producers.delete(key);
      for (const producer of producers) this.unlink(this.consumers, producer, key);
    }
  }

  private unlink(index: Map<string, Set<string>>, from: string, to: string): void {
    const set = index.get(from);
    if (set === undefined || !set.delete(to)) return;
    this.stats.allowances--;
    if (set.size === 0) index.delete(from);
  }
}
