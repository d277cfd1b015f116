// The browser build's ./logger (see tools/build-browser.mjs): warnings and errors to the console, no pino
// and no node:fs. Pass any `Logger` (a pino browser logger, say) as `NodeOptions.logger` for more.
import type { Logger } from './logger';

export type { Logger } from './logger';

function consoleLogger(bindings: Record<string, unknown>): Logger {
  return {
    error: (obj, msg) => console.error(msg ?? '', { ...bindings, ...obj }),
    warn: (obj, msg) => console.warn(msg ?? '', { ...bindings, ...obj }),
    info: () => undefined,
    debug: () => undefined,
    child: (more) => consoleLogger({ ...bindings, ...more }),
  };
}

/** The default logger in a browser: warnings and errors on the console. */
export function defaultLogger(): Logger {
  return consoleLogger({ name: 'sealroute' });
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => silentLogger,
};
