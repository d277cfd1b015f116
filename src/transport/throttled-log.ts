import type { Logger } from '../node/logger';

/**
 * Warnings caused by peers (refused connections, protocol violations), logged in full up to `perSecond`
 * times a second and counted beyond that, with one summary line per second. A flood of hostile
 * connections must not turn into a flood of log lines.
 */
export class ThrottledLog {
  private windowStart = 0;
  private logged = 0;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly perSecond = 20,
  ) {}

  warn(obj: object, msg: string): void {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.flush();
      this.windowStart = now;
      this.logged = 0;
    }
    if (this.logged++ < this.perSecond) this.logger.warn(obj, msg);
    else this.suppressed++;
  }

  /** Logs how many warnings were suppressed since the last summary, if any. */
  flush(): void {
    if (this.suppressed === 0) return;
    this.logger.warn({ suppressed: this.suppressed }, 'peer warnings not logged in the last second');
    this.suppressed = 0;
  }
}
