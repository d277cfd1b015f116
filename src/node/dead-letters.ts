import { EventEmitter } from 'eventemitter3';
import { ByteParts } from '../core/byte-parts';
import { DeliveryFailureNotice, type DeliveryFailureCode } from '../core/delivery-failure';
import { LocalMessage } from '../core/message';
import type { Refused } from './delivery';
import type { Logger } from './logger';
import { ThrottledLog } from './throttled-log';

/** Why a message was not delivered. */
export type DropReason =
  | 'no-route' // nothing is registered at the next hop
  | 'worker-stopped' // it was queued for, or sent to, a worker that stopped
  | 'node-stopped' // the node stopped with it queued
  | 'access-denied' // an access rule of the receiving worker refused it
  | 'wrong-body-type' // the body is not of the codec the worker declared
  | 'undeliverable'; // a transport or channel could not carry it on (the detail says why)

/** What a delivery failure notice about a dropped message says by default, by drop reason. */
const DEFAULT_CODES: Readonly<Record<DropReason, DeliveryFailureCode>> = {
  'no-route': 'NO_ROUTE',
  'worker-stopped': 'NO_ROUTE',
  'node-stopped': 'NODE_STOPPED',
  'access-denied': 'ACCESS_DENIED',
  'wrong-body-type': 'WRONG_BODY_TYPE',
  undeliverable: 'UNDELIVERABLE',
};

/** What a component that drops a message knows beyond the reason: a precise code and the local cause. */
export interface DropCause {
  readonly code?: DeliveryFailureCode;
  readonly cause?: unknown;
}

/** One message that was not delivered, with the reason. */
export interface DeadLetter {
  readonly reason: DropReason;
  /** What a delivery failure notice about it says (see `DeliveryFailureCode`). */
  readonly code: DeliveryFailureCode;
  /** The local error behind it, when there is one (a connection's close reason, say). */
  readonly cause: unknown;
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
 * The most of a bytes or string body a kept dead letter holds: a longer one is kept cut to this (a copy),
 * so that the record of recent losses, fed by whatever peers send, holds at most 64 x 4 KiB of bodies.
 */
const KEPT_BODY = 4096;

/** The message as kept in the recent ring: a long bytes or string body is cut to `KEPT_BODY`. */
function kept(message: LocalMessage): LocalMessage {
  const body = message.body;
  if (!(body instanceof Uint8Array || typeof body === 'string') || body.length <= KEPT_BODY) return message;
  const cut = body.slice(0, KEPT_BODY); // a copy for bytes, so the kept letter holds no more than this
  return new LocalMessage(message.onwardRoute, message.returnRoute, cut, message.localInfo);
}

/**
 * Where undeliverable messages go: counted by reason, logged with throttling, the last few kept, and each
 * one emitted as a `deadLetter` event so that tests and applications can observe losses.
 */
export class DeadLetters extends EventEmitter<DeadLetterEvents> {
  private total = 0;
  private readonly counts = new Map<DropReason, number>();
  private readonly recentRing: DeadLetter[] = [];
  private notices = 0;
  private latest: DeadLetter | undefined;

  private readonly throttle: ThrottledLog;

  constructor(
    private readonly logger: Logger,
    /** Called for every dead letter, before the event: the node sends delivery failure notices from here. */
    private readonly onRecorded?: (letter: DeadLetter) => void,
  ) {
    super();
    this.throttle = new ThrottledLog(logger, LOG_PER_SECOND, 'dead letters not logged in the last second');
  }

  /**
   * Delivery failure notices that could not be delivered. They are counted here, not as dead letters: a
   * notice is not a message of the application, and no notice is ever sent about a notice.
   */
  get noticesDropped(): number {
    return this.notices;
  }

  /** All dead letters since the node started. */
  get count(): number {
    return this.total;
  }

  /** Dead letters of one reason. */
  countOf(reason: DropReason): number {
    return this.counts.get(reason) ?? 0;
  }

  /** The most recent dead letters, oldest first (a bytes or string body over 4 KiB is kept cut to 4 KiB). */
  recent(): readonly DeadLetter[] {
    return this.recentRing.slice();
  }

  /**
   * Records a message that was not delivered, and returns the refusal to hand back to its sender. `cause`
   * refines what a delivery failure notice says (by default the code follows `reason`). A delivery failure
   * notice that could not be delivered is only counted (`noticesDropped`).
   */
  record(reason: DropReason, detail: string, dropped: LocalMessage, cause?: DropCause): Refused {
    // What a listener or a notice reads is bytes, as a worker would have received it.
    const message = dropped.body instanceof ByteParts ? dropped.withBody(dropped.body.join()) : dropped;
    const letter: DeadLetter = {
      reason,
      code: cause?.code ?? DEFAULT_CODES[reason],
      cause: cause?.cause,
      detail,
      address: message.onwardRoute.next?.key ?? '(empty route)',
      message,
      at: Date.now(),
    };
    const refused: Refused = { status: 'refused', letter };
    if (message.body instanceof DeliveryFailureNotice) {
      this.notices++;
      this.logger.debug({ reason, detail }, 'a delivery failure notice was not delivered');
      return refused;
    }
    this.total++;
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    const keptMessage = kept(message);
    this.recentRing.push(keptMessage === message ? letter : { ...letter, message: keptMessage });
    if (this.recentRing.length > RECENT) this.recentRing.shift();
    this.latest = letter;
    this.log(letter);
    this.onRecorded?.(letter);
    this.emit('deadLetter', letter);
    return refused;
  }

  /**
   * @internal The last dead letter recorded (for the router's bridge to transports that do not return a
   * `Delivery` yet; see `Router.dispatch`).
   */
  get last(): DeadLetter | undefined {
    return this.latest;
  }

  private log(letter: DeadLetter): void {
    if (!this.throttle.allows(letter.at)) return;
    this.logger.warn(
      {
        reason: letter.reason,
        address: letter.address,
        onwardRoute: letter.message.onwardRoute.toString(),
        returnRoute: letter.message.returnRoute.toString(),
      },
      `dead letter: ${letter.detail}`,
    );
  }
}
