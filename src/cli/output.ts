/**
 * How the `sealroute` command talks to people and scripts: exit codes that mean something, one-line errors
 * with their cause, colours only on a terminal, and a progress line for each step that takes over a second.
 */

/** Exit codes: 0 ok, 1 the command failed, 2 it was used wrongly (unknown option, bad argument, bad config). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Why the command stopped, for `CliError`. */
export type CliErrorCode = 'USAGE' | 'CONFIG' | 'FAILED' | 'NOT_RUNNING';

/** An error the command reports on one line and exits with (2 for usage and config errors, else 1). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly code: CliErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get exitCode(): number {
    return this.code === 'USAGE' || this.code === 'CONFIG' ? EXIT.usage : EXIT.failure;
  }
}

const useColour = (stream: NodeJS.WriteStream): boolean =>
  stream.isTTY === true && process.env.NO_COLOR === undefined && process.env.TERM !== 'dumb';

/** `text` in an ANSI colour when `stream` is a terminal (and `NO_COLOR` is unset); plain otherwise. */
export function paint(
  stream: NodeJS.WriteStream,
  colour: 'red' | 'green' | 'yellow' | 'dim',
  text: string,
): string {
  if (!useColour(stream)) return text;
  const codes = { red: 31, green: 32, yellow: 33, dim: 2 } as const;
  return `\u001b[${codes[colour]}m${text}\u001b[0m`;
}

/** One line saying what went wrong and why: `name code: message (cause: ...)`, causes chained. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    if (current instanceof Error) {
      const code = (current as { code?: unknown }).code;
      const label =
        current instanceof CliError ? '' : `${current.name}${typeof code === 'string' ? ` ${code}` : ''}: `;
      parts.push(`${label}${current.message}`);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.join(' (cause: ') + ')'.repeat(Math.max(0, parts.length - 1));
}

/** Prints the error on one line to standard error and sets the exit code. */
export function reportError(error: unknown): void {
  const line = describeError(error).replace(/\s*\n\s*/g, ' ');
  process.stderr.write(`${paint(process.stderr, 'red', 'error')}: ${line}\n`);
  process.exitCode = error instanceof CliError ? error.exitCode : EXIT.failure;
}

/**
 * Runs a step; if it takes over a second, says so on standard error (`… step`) and, when it ends, how long
 * it took. Quick steps print nothing, so scripts that read standard output see only results.
 */
export async function step<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const timer = setTimeout(
    () => process.stderr.write(`${paint(process.stderr, 'dim', '…')} ${what}\n`),
    1000,
  );
  try {
    return await work();
  } finally {
    clearTimeout(timer);
    const ms = Date.now() - started;
    if (ms >= 1000)
      process.stderr.write(`${paint(process.stderr, 'green', '✓')} ${what} (${(ms / 1000).toFixed(1)} s)\n`);
  }
}

/** A plain text table: one header row, columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]): string =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
