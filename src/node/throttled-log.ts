import type { Logger } from './logger';

/**
 * Warnings that outsiders can cause (dead letters, dropped frames, refused handshakes and connections),
 * logged in full up to `perSecond` times a second and only counted beyond that, with one summary line per
 * second. A flood of hostile traffic must not turn into a flood of log lines; counters elsewhere still
 * count every one.
 */
export class ThrottledLog {
  private windowStart = 0;
  private logged = 0;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly perSecond = 20,
    /** The summary line's message. */
    private readonly summary = 'further warnings in the last second not logged',
  ) {}

  warn(obj: object, msg: string): void {
    if (this.allows()) this.logger.warn(obj, msg);
  }

  /**
   * Whether one more warning may be logged now (counted as suppressed if not): for a caller that builds
   * its log fields only when they will be logged.
   */
  allows(now = Date.now()): boolean {
    if (now - this.windowStart >= 1000) {
      this.flush();
      this.windowStart = now;
      this.logged = 0;
    }
    if (this.logged++ < this.perSecond) return true;
    this.suppressed++;
    return false;
  }

  /** Logs how many warnings were suppressed since the last summary, if any. */
  flush(): void {
    if (this.suppressed === 0) return;
    this.logger.warn({ suppressed: this.suppressed }, this.summary);
    this.suppressed = 0;
  }
}
