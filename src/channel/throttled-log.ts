import type { Logger } from '../node/logger';

/** Warnings logged per second before the rest are only counted. */
const PER_SECOND = 10;

/**
 * Warnings about dropped frames and refused handshakes, logged at most `PER_SECOND` a second (then a
 * summary), so that a peer or an attacker flooding garbage cannot flood the log too. Counters elsewhere
 * still count every one.
 */
export class ThrottledLog {
  private windowStart = 0;
  private logged = 0;
  private suppressed = 0;

  constructor(private readonly logger: Logger) {}

  warn(obj: object, msg: string): void {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      if (this.suppressed > 0) {
        this.logger.warn({ suppressed: this.suppressed }, 'further warnings in the last second not logged');
      }
      this.windowStart = now;
      this.logged = 0;
      this.suppressed = 0;
    }
    if (this.logged++ < PER_SECOND) this.logger.warn(obj, msg);
    else this.suppressed++;
  }
}
