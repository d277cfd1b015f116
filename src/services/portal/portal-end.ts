import { EventEmitter } from 'eventemitter3';
import type { Address } from '../../core/address';
import type { Context } from '../../node/context';
import type { Logger } from '../../node/logger';
import { ThrottledLog } from '../../node/throttled-log';
import { PortalError } from './errors';
import type { SessionLimits } from './options';
import type { PortalSession } from './portal-session';
import { newStats, type PortalEvents, type PortalStats, type SessionHost } from './session-host';

function noop(): void {}

/** How often the sessions of each channel check that it is still open (see `probeChannels`). */
export const PROBE_INTERVAL_MS = 1_000;

/**
 * What an inlet and an outlet share: their sessions (all, and by channel), counters, events, and the
 * closing of everything when the handle is closed, the node stops or a channel goes.
 */
export abstract class PortalEnd extends EventEmitter<PortalEvents> implements SessionHost {
  abstract readonly side: 'inlet' | 'outlet';
  readonly stats: PortalStats = newStats();
  readonly peerLog: ThrottledLog;
  protected readonly sessions = new Set<PortalSession>();
  private readonly byChannel = new Map<string, Set<PortalSession>>();
  private closing: Promise<void> | undefined;
  private resolveClosed!: () => void;
  private readonly closedPromise = new Promise<void>((resolve) => (this.resolveClosed = resolve));
  private readonly unfollow: () => void;
  private readonly prober: NodeJS.Timeout;

  protected constructor(
    protected readonly ctx: Context,
    readonly limits: SessionLimits,
    readonly logger: Logger,
  ) {
    super();
    this.peerLog = new ThrottledLog(logger);
    // A channel's encryptor stopping ends the sessions through it; the node stopping reaches `close()`
    // through the worker of the inlet or outlet (its `shutdown`).
    this.unfollow = ctx.onWorkerStopped((address) => this.workerStopped(address));
    this.prober = setInterval(() => this.probeChannels(), PROBE_INTERVAL_MS);
    this.prober.unref();
  }

  /**
   * A session waiting for bytes sends nothing, so it would not notice that its channel closed (the channel
   * stops its decryptor at once but keeps its encryptor a while, see `closedLinger`). Once a second, one
   * session per channel sends a no-op through it: a closed channel refuses it, and the notice ends them all.
   */
  private probeChannels(): void {
    for (const set of this.byChannel.values()) {
      for (const session of set) if (session.probe()) break;
    }
  }

  /** Whether `close()` was called (or the node stopped). */
  get isClosed(): boolean {
    return this.closing !== undefined;
  }

  /** Sessions open or opening now. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Sessions through the channel whose local encryptor is `channelKey`. */
  protected sessionsOn(channelKey: string): number {
    return this.byChannel.get(channelKey)?.size ?? 0;
  }

  protected add(session: PortalSession): void {
    this.sessions.add(session);
    this.stats.sessionsActive = this.sessions.size;
    if (session.channelKey === undefined) return;
    let set = this.byChannel.get(session.channelKey);
    if (set === undefined) this.byChannel.set(session.channelKey, (set = new Set()));
    set.add(session);
  }

  opened(session: PortalSession): void {
    this.stats.sessionsOpened++;
    this.emit('sessionOpened', session.info);
  }

  ended(session: PortalSession, error: PortalError | undefined): void {
    if (!this.sessions.delete(session)) return;
    this.stats.sessionsActive = this.sessions.size;
    this.stats.sessionsClosed++;
    if (error !== undefined) this.stats.errors[error.code] = (this.stats.errors[error.code] ?? 0) + 1;
    if (session.channelKey !== undefined) {
      const set = this.byChannel.get(session.channelKey);
      set?.delete(session);
      if (set?.size === 0) this.byChannel.delete(session.channelKey);
    }
    this.logger.debug({ session: session.id, error: error?.code }, `portal ${this.side} session closed`);
    this.emit('sessionClosed', session.info, error);
  }

  channelGone(channelKey: string, error: PortalError): void {
    const set = this.byChannel.get(channelKey);
    if (set === undefined) return;
    this.logger.info({ channel: channelKey, sessions: set.size }, 'portal channel closed: its sessions end');
    for (const session of [...set]) session.finish(error);
  }

  private workerStopped(address: Address): void {
    if (!this.byChannel.has(address.key)) return;
    this.channelGone(address.key, new PortalError('CHANNEL_CLOSED', `secure channel ${address.key} closed`));
  }

  /** Refuses something before it became a session: counted, logged (throttled), emitted. */
  protected refuse(error: PortalError, details: object): void {
    this.peerLog.warn(
      { ...details, code: error.code },
      `portal ${this.side} refused a session: ${error.message}`,
    );
    this.emit('refused', error);
  }

  /**
   * Stops taking sessions and resets every open one (RST to the other end, RST to the local TCP peer).
   * Resolves once all is closed; calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const stopped = this.stopAccepting().catch(noop);
      for (const session of [...this.sessions]) {
        session.abort(new PortalError('CLOSED', `the ${this.side} was closed`), 'CLOSED');
      }
      await stopped;
      this.unfollow();
      clearInterval(this.prober);
      this.peerLog.flush();
      this.resolveClosed();
    })();
    return this.closing;
  }

  /** Resolves once the inlet or outlet has closed (`close()`, or its node stopped). Never rejects. */
  closed(): Promise<void> {
    return this.closedPromise;
  }

  protected abstract stopAccepting(): Promise<void>;
}
