import { DeliveryFailureNotice, takesFailureNotices } from '../core/delivery-failure';
import { LocalMessage } from '../core/message';
import { Route } from '../core/route';
import type { DeadLetter } from './dead-letters';
import { untilQueued } from './delivery';
import { ReplyAddress, type Router } from './router';

/** The defaults of delivery failure notices. */
export const FAILURE_NOTICE_DEFAULTS = {
  /**
   * Notices sent per second toward one return route's first hop (a connection, a channel). A notice is
   * never larger than the request it answers and goes only where that request came from, so this bounds
   * what a flood of doomed requests can make a node send back; the node-wide cap is ten times this.
   */
  perRoutePerSecond: 100,
} as const;

/** Counters of the notices a node sent. */
export interface FailureNoticeStats {
  /** Notices sent back along the return route of a dropped request. */
  sent: number;
  /** Notices not sent because their route (or the node) was over its rate. */
  rateLimited: number;
}

function noop(): void {}

/**
 * Sends a delivery failure notice (docs/PROTOCOL.md 2.1) back along the return route of each dropped
 * message that was a request: one whose return route ends at an address that takes notices (a reply slot, a
 * channel initiator). Rate-limited per return route's first hop and per node, in one-second windows.
 */
export class FailureNotices {
  readonly stats: FailureNoticeStats = { sent: 0, rateLimited: 0 };
  private windowStart = -Infinity;
  private total = 0;
  private readonly perHop = new Map<string, number>();
  private readonly totalPerSecond: number;

  constructor(
    private readonly router: Router,
    private readonly perRoutePerSecond: number,
    private readonly isStopping: () => boolean,
  ) {
    this.totalPerSecond = perRoutePerSecond * 10;
  }

  /** The dead-letter hook: sends a notice about `letter` if it was a request and the rate allows. */
  readonly onDeadLetter = (letter: DeadLetter): void => {
    const returnRoute = letter.message.returnRoute;
    if (this.perRoutePerSecond === 0 || !takesFailureNotices(returnRoute.recipient)) return;
    const first = returnRoute.next;
    if (first instanceof ReplyAddress && first.target === undefined) return; // that request has already ended
    if (this.isStopping()) return;
    if (!this.allow(returnRoute.next!.key)) {
      this.stats.rateLimited++;
      return;
    }
    this.stats.sent++;
    const notice = new LocalMessage(
      returnRoute,
      Route.EMPTY,
      new DeliveryFailureNotice(letter.code, letter.cause),
    );
    // After the code that dropped the message has finished (it may be in the middle of a mailbox or a stop).
    queueMicrotask(() => {
      if (!this.isStopping()) untilQueued(this.router.dispatch(notice))?.catch(noop);
    });
  };

  private allow(key: string): boolean {
    const now = performance.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.total = 0;
      this.perHop.clear(); // bounded: at most totalPerSecond keys per window
    }
    if (this.total >= this.totalPerSecond) return false;
    const sent = this.perHop.get(key) ?? 0;
    if (sent >= this.perRoutePerSecond) return false;
    this.perHop.set(key, sent + 1);
    this.total++;
    return true;
  }
}
