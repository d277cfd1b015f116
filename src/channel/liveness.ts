import type { DeliveryFailureCode, DeliveryFailureNotice } from '../core/delivery-failure';
import type { Logger } from '../node/logger';
import type { NodeRuntime } from '../node/node-runtime';
import { PayloadKind } from './frames';
import type { ChannelLimits } from './options';
import type { ChannelInit, SecureChannel } from './secure-channel';

/**
 * The one timer that runs the liveness checks of every channel end of a node (none per channel), at the
 * shortest period among them.
 */
class Sweeper {
  private readonly watched = new Set<Liveness>();
  private timer: NodeJS.Timeout | undefined;
  private period = Infinity;
  private lastSweep = 0;

  /** Runs `liveness.check` about every `period` ms until it is unwatched. */
  watch(liveness: Liveness, period: number): void {
    this.watched.add(liveness);
    if (period >= this.period) return;
    clearInterval(this.timer);
    this.period = period;
    this.lastSweep = performance.now();
    this.timer = setInterval(this.sweep, period);
    this.timer.unref();
  }

  unwatch(liveness: Liveness): void {
    if (this.watched.delete(liveness) && this.watched.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.period = Infinity;
    }
  }

  private readonly sweep = (): void => {
    const now = performance.now();
    // Our own event loop stalled (a long GC, a busy process) when a sweep comes more than a period late:
    // the peers' frames may be waiting unread, so that time does not count against them. Judged here, per
    // sweep, not per channel tick: a tick may fall one sweep later than due, and that is no stall.
    const stalled = now - this.lastSweep > 2 * this.period;
    this.lastSweep = now;
    for (const liveness of this.watched) liveness.check(now, stalled);
  };
}

const sweepers = new WeakMap<NodeRuntime, Sweeper>();

/**
 * While a hop holds back this end's data because the peer's queue there is full (`CONGESTED`), the PING
 * that asks whether it drains again goes this often, in ms (at most every `keepaliveInterval`). One PING is
 * a frame of a few dozen bytes, refused cheaply while the queue stays full; it bounds how long sends stay
 * held once the queue drains.
 */
const CONGESTION_PROBE_MS = 250;

function sweeperOf(node: NodeRuntime): Sweeper {
  let sweeper = sweepers.get(node);
  if (sweeper === undefined) sweepers.set(node, (sweeper = new Sweeper()));
  return sweeper;
}

/**
 * Whether the peer is still there: a channel end PINGs a peer silent for `keepaliveInterval`, closes
 * `unresponsive` once it was silent for `peerTimeout` (or, after a route notice, for one more
 * `keepaliveInterval`), and closes `idle` after `idleTimeout` without a message either way. Frames are
 * counted, never timed, on the hot path: each check compares the counters with the last check's.
 */
export class Liveness {
  private readonly limits: ChannelLimits;
  private readonly logger: Logger;
  private readonly sweeper: Sweeper;
  private readonly tickPeriod: number;
  private nextCheck = 0;
  /** Whether the node's event loop stalled since this end's last tick (see `Sweeper.sweep`). */
  private loopStalled = false;
  private heardCount = 0;
  private heardAt = 0;
  private activeCount = 0;
  private activeAt = 0;
  private suspectAt: number | undefined;
  private suspectCode: DeliveryFailureCode | undefined;
  /** Set while sends are held for a CONGESTED notice: released when the peer answers a PING. */
  private congestion: { held: Promise<void>; release: () => void; probe: NodeJS.Timeout } | undefined;

  constructor(
    private readonly channel: SecureChannel,
    init: ChannelInit,
  ) {
    this.limits = init.limits;
    this.logger = init.logger;
    this.sweeper = sweeperOf(init.ctx.node);
    const { keepaliveInterval, peerTimeout, idleTimeout } = this.limits;
    const periods = [keepaliveInterval, Math.ceil(peerTimeout / 4), idleTimeout].filter((ms) => ms > 0);
    this.tickPeriod = keepaliveInterval > 0 || idleTimeout > 0 ? Math.max(10, Math.min(...periods)) : 0;
    if (this.tickPeriod > 0) {
      this.heardAt = this.activeAt = performance.now();
      this.nextCheck = this.heardAt + this.tickPeriod;
      // The node's sweep runs at the shortest period among its channels; each end checks on its own period.
      this.sweeper.watch(this, Math.max(10, Math.min(this.tickPeriod, 1_000)));
    }
  }

  /** The channel closed: no more checks, and sends held for congestion go on (to find the channel closed). */
  stop(): void {
    this.sweeper.unwatch(this);
    this.answered();
  }

  /**
   * Resolves when sends may go on: undefined unless a hop reported the peer's queue full (`CONGESTED`) and
   * the peer has not answered a PING since. The encryptor waits for it before each message, so that a
   * stalled peer holds back this channel's senders (backpressure on this destination only) instead of
   * having a hub refuse frame after frame; other channels, on the same connection too, are not held.
   */
  get held(): Promise<void> | undefined {
    return this.congestion?.held;
  }

  /** The peer answered a PING (a PONG): the way to it drains again, and held sends go on. */
  answered(): void {
    const congestion = this.congestion;
    if (congestion === undefined) return;
    this.congestion = undefined;
    clearInterval(congestion.probe);
    congestion.release();
  }

  /** The node's sweep: runs `tick` when this end's period has come. */
  check(now: number, stalled: boolean): void {
    if (stalled) this.loopStalled = true;
    if (now >= this.nextCheck) {
      this.nextCheck = now + this.tickPeriod;
      this.tick(now);
    }
  }

  /**
   * A hop on the route sent a plain (unauthenticated) delivery failure notice about one of this end's
   * frames. It cannot close the channel by itself; it makes this end PING at once, and close `unresponsive`
   * if nothing authenticated comes back within `keepaliveInterval`. A `CONGESTED` notice also holds this
   * end's sends (`held`) until the peer answers a PING, sent again every 250 ms meanwhile: a notice cannot
   * be authenticated, so all it can do is make this end wait and ask the peer, at most for that time.
   */
  routeNotice(notice: DeliveryFailureNotice): undefined {
    const { stats } = this.channel;
    stats.routeNotices++;
    // A reliable channel survives its route: its retransmissions and probes, not a notice, decide.
    if (this.channel.end.encryptor.reliable !== undefined) return undefined;
    if (this.channel.isClosed || this.limits.keepaliveInterval === 0) return undefined;
    if (notice.code === 'CONGESTED' && this.congestion === undefined) this.hold();
    if (this.suspectAt !== undefined) return undefined;
    this.logger.debug(
      { channel: this.channel.address.key, code: notice.code },
      'a hop reported a frame of this channel undelivered; probing the peer',
    );
    this.suspectAt = performance.now();
    this.suspectCode = notice.code;
    this.heardCount = stats.framesReceived;
    this.ping();
    return undefined;
  }

  /**
   * One liveness check: PING a silent peer, close an end whose peer stayed silent past `peerTimeout` (or,
   * after a route notice, past one `keepaliveInterval`), or one idle past `idleTimeout`.
   */
  private tick(now: number): void {
    if (this.channel.isClosed) return;
    const stalled = this.loopStalled;
    this.loopStalled = false;
    const { keepaliveInterval, peerTimeout, idleTimeout } = this.limits;
    const { stats } = this.channel;
    const received = stats.framesReceived;
    // Our own event loop stalled: the peer's frames may be waiting unread, so this period does not count.
    if (received !== this.heardCount || stalled) {
      this.heardCount = received;
      this.heardAt = now;
      this.suspectAt = undefined;
    }
    const { lifecycle } = this.channel.end;
    if (keepaliveInterval > 0) {
      const silent = now - this.heardAt;
      const suspect = this.suspectAt !== undefined && now - this.suspectAt >= keepaliveInterval;
      if (silent >= peerTimeout || suspect) {
        this.logger.warn(
          {
            channel: this.channel.address.key,
            remote: this.channel.remoteIdentifier,
            silentMs: Math.round(silent),
            routeNotice: this.suspectCode,
          },
          'secure channel closed: the peer stopped answering',
        );
        void lifecycle.sendClose(); // should the partition heal, the peer learns at once
        lifecycle.teardown('unresponsive');
        return;
      }
      if (silent >= keepaliveInterval) this.ping();
    }
    if (idleTimeout > 0) {
      const messages = stats.messagesSent + stats.messagesReceived;
      if (messages !== this.activeCount) {
        this.activeCount = messages;
        this.activeAt = now;
      } else if (now - this.activeAt >= idleTimeout) {
        void lifecycle.sendClose();
        lifecycle.teardown('idle');
      }
    }
  }

  /** Holds sends until the peer answers a PING (`answered`), asking again every `CONGESTION_PROBE_MS`. */
  private hold(): void {
    this.channel.stats.congestionHolds++;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const every = Math.min(CONGESTION_PROBE_MS, this.limits.keepaliveInterval);
    const probe = setInterval(() => this.ping(), every);
    probe.unref();
    this.congestion = { held, release, probe };
    // Already suspect: that PING went before this notice, maybe into the full queue; ask again now.
    if (this.suspectAt !== undefined) this.ping();
  }

  private ping(): void {
    this.channel.stats.pingsSent++;
    void this.channel.end.encryptor.sendControl(PayloadKind.PING);
  }
}
