import pino from 'pino';

/** The logging interface Sealroute writes to: a subset of pino's, so a pino logger fits as it is. */
export interface Logger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/**
 * The default logger: pino, JSON lines on standard error (standard output stays the application's), level
 * from `SEALROUTE_LOG` (default `info`; `silent` turns it off).
 */
export function defaultLogger(): Logger {
  // Synchronous writes: with the default asynchronous destination, a process whose stderr reader has gone
  // (EPIPE) hangs forever at exit, flushing (sonic-boom retries the failed write). Sealroute logs little.
  return pino(
    { name: 'sealroute', level: process.env.SEALROUTE_LOG ?? 'info' },
    pino.destination({ dest: 2, sync: true }),
  );
}

/** A logger that discards everything. */
export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => silentLogger,
};
