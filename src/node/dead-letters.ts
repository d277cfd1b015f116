import { EventEmitter } from 'eventemitter3';
import type { LocalMessage } from '../core/message';
import type { Logger } from './logger';

/** Why a message was not delivered. */
export type DropReason =
  | 'no-route' // nothing is registered at the next hop
  | 'worker-stopped' // it was queued for, or sent to, a worker that stopped
  | 'node-stopped' // the node stopped with it queued
  | 'access-denied' // an access rule of the receiving worker refused it
  | 'wrong-body-type' // the body is not of the codec the worker declared
  | 'undeliverable'; // a transport or channel could not carry it on (the detail says why)

/** One message that was not delivered, with the reason. */
export interface DeadLetter {
  readonly reason: DropReason;
  readonly detail: string;
  /** The address it was for. */
  readonly address: string;
  readonly message: LocalMessage;
  readonly at: number;
}

/** Events a `DeadLetters` emits. */
export interface DeadLetterEvents {
  deadLetter: [DeadLetter];
}

/** How many dead letters are logged in full per second before the rest are only counted. */
const LOG_PER_SECOND = 10;
/** How many recent dead letters are kept for inspection. */
const RECENT = 64;

/**
 * Where undeliverable messages go: counted by reason, logged with throttling, the last few kept, and each
 * one emitted as a `deadLetter` event so that tests and applications can observe losses.
 */
export class DeadLetters extends EventEmitter<DeadLetterEvents> {
  private total = 0;
  private readonly counts = new Map<DropReason, number>();
  private readonly recentRing: DeadLetter[] = [];
  private windowStart = 0;
  private loggedInWindow = 0;
  private suppressed = 0;

  constructor(private readonly logger: Logger) {
    super();
  }

  /** All dead letters since the node started. */
  get count(): number {
    return this.total;
  }

  /** Dead letters of one reason. */
  countOf(reason: DropReason): number {
    return this.counts.get(reason) ?? 0;
  }

  /** The most recent dead letters, oldest first. */
  recent(): readonly DeadLetter[] {
    return this.recentRing.slice();
  }

  /** Records a message that was not delivered. */
  record(reason: DropReason, detail: string, message: LocalMessage): void {
    this.total++;
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    const letter: DeadLetter = {
      reason,
      detail,
      address: message.onwardRoute.next?.key ?? '(empty route)',
      message,
      at: Date.now(),
    };
    this.recentRing.push(letter);
    if (this.recentRing.length > RECENT) this.recentRing.shift();
    this.log(letter);
    this.emit('deadLetter', letter);
  }

  private log(letter: DeadLetter): void {
    const now = letter.at;
    if (now - this.windowStart >= 1000) {
      if (this.suppressed > 0) {
        this.logger.warn({ suppressed: this.suppressed }, 'dead letters not logged in the last second');
      }
      this.windowStart = now;
      this.loggedInWindow = 0;
      this.suppressed = 0;
    }
    if (this.loggedInWindow++ < LOG_PER_SECOND) {
      this.logger.warn(
        {
          reason: letter.reason,
          address: letter.address,
          onwardRoute: letter.message.onwardRoute.toString(),
          returnRoute: letter.message.returnRoute.toString(),
        },
        `dead letter: ${letter.detail}`,
      );
    } else {
      this.suppressed++;
    }
  }
}
