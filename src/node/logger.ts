import { writeSync } from 'node:fs';
import pino from 'pino';

/** The logging interface Sealroute writes to: a subset of pino's, so a pino logger fits as it is. */
export interface Logger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** Where log lines go and how they look: one JSON object a line, or one readable line for a person. */
export type LogFormat = 'json' | 'pretty';

/**
 * The default logger: pino on standard error (standard output stays the application's), at the level in
 * `SEALROUTE_LOG` (`debug`, `info`, `warn`, `error` or `silent`; default `warn`, so a program's own output
 * is not buried under routine events). Readable lines when standard error is a terminal, JSON lines
 * otherwise (for log collectors); `SEALROUTE_LOG_FORMAT=json|pretty` overrides the choice.
 */
export function defaultLogger(): Logger {
  const level = process.env.SEALROUTE_LOG ?? 'warn';
  const format = logFormat(process.env.SEALROUTE_LOG_FORMAT, process.stderr.isTTY === true);
  if (format === 'pretty') {
    const colors = process.stderr.isTTY === true && process.stderr.hasColors?.() === true;
    return pino({ name: 'sealroute', level }, prettyDestination(colors));
  }
  // Synchronous writes: with the default asynchronous destination, a process whose stderr reader has gone
  // (EPIPE) hangs forever at exit, flushing (sonic-boom retries the failed write). Sealroute logs little.
  return pino({ name: 'sealroute', level }, pino.destination({ dest: 2, sync: true }));
}

/** The format asked for in `SEALROUTE_LOG_FORMAT`, else pretty on a terminal and JSON elsewhere. */
export function logFormat(requested: string | undefined, terminal: boolean): LogFormat {
  if (requested === 'json' || requested === 'pretty') return requested;
  return terminal ? 'pretty' : 'json';
}

/**
 * A pino destination that turns each JSON line into a readable one and writes it to standard error at once
 * (synchronously, like the JSON destination, and an EPIPE is swallowed rather than thrown at the caller). A few lines of formatting rather than pino-pretty: this is the
 * library's default logger, so every application would carry pino-pretty and its dependencies for it.
 */
function prettyDestination(colors: boolean): { write(line: string): void } {
  return {
    write(line: string): void {
      try {
        writeSync(2, `${formatLogLine(line, colors)}\n`);
      } catch {
        // Standard error is gone: there is nowhere left to report it.
      }
    },
  };
}

const LEVELS: Record<number, [name: string, color: string]> = {
  10: ['TRACE', '90'],
  20: ['DEBUG', '36'],
  30: ['INFO ', '32'],
  40: ['WARN ', '33'],
  50: ['ERROR', '31'],
  60: ['FATAL', '35'],
};

/** pino's own fields, shown in the line's head or not at all. */
const HEAD_FIELDS = new Set([
  'level',
  'time',
  'pid',
  'hostname',
  'name',
  'msg',
  'component',
  'worker',
  'err',
]);

/**
 * One pino JSON line as `12:34:56.789 WARN  tcp: the message key=value …`, with an error's stack on the
 * lines below. A line that is not JSON is returned as it is.
 */
export function formatLogLine(line: string, colors = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.trimEnd();
  }
  const paint = (code: string, text: string): string => (colors ? `\u001b[${code}m${text}\u001b[0m` : text);
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const [levelName, levelColor] = LEVELS[entry.level as number] ?? [String(entry.level), '0'];
  const source = [entry.component, entry.worker].filter((part) => part !== undefined).join(' ');
  const fields = Object.entries(entry)
    .filter(([key]) => !HEAD_FIELDS.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const head = [
    paint('90', time),
    paint(levelColor, levelName),
    source === '' ? undefined : paint('1', `${source}:`),
    typeof entry.msg === 'string' ? entry.msg : undefined,
    ...fields,
  ].filter((part) => part !== undefined && part !== '');
  const err = entry.err as { type?: string; message?: string; stack?: string } | undefined;
  const stack =
    err === undefined
      ? ''
      : `\n    ${(err.stack ?? `${err.type}: ${err.message}`).split('\n').join('\n    ')}`;
  return head.join(' ') + stack;
}

/** A logger that discards everything. */
export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => silentLogger,
};
