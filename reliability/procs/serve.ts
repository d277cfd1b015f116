/**
 * The child's side of the reliability programs (the parent's is lib/child.ts). A child prints
 * `ready <json>`, then serves commands read from standard input, `<id> <name> <json args>`, each answered on
 * standard output with `<id> ok <json>` or `<id> error <message>`; commands run concurrently, so the parent
 * can sample a child that is busy. Standard output carries only this protocol; logs go to standard error.
 *
 * A child never outlives its parent: it shuts down when standard input closes (the parent stopped it, or
 * died and the kernel closed the pipe), exits if it is re-parented, and exits after a lifetime cap
 * (`SEALROUTE_CHILD_LIFETIME_MS`) whatever happens.
 */
import { createInterface } from 'node:readline';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import pino from 'pino';
import type { Logger } from '../../src';

/** A command's handler: its JSON arguments in, a JSON-serialisable result out. */
export type Command = (args: readonly unknown[]) => unknown;

/** How long shutting down may take before the child exits anyway. */
const SHUTDOWN_MS = 5_000;

/** The parsed `--name value` options of the child's command line. */
export function options<T extends NonNullable<ParseArgsConfig['options']>>(spec: T) {
  return parseArgs({ args: process.argv.slice(2), options: spec, strict: true }).values;
}

/** A number option, or `fallback`. */
export function numberOption(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`expected a number, got ${String(value)}`);
  return n;
}

/** Announces `ready` with `info` and serves `commands` until standard input closes; then `shutdown`. */
export function serve(
  info: unknown,
  commands: Readonly<Record<string, Command>>,
  shutdown: () => Promise<void> | void,
): void {
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => void run(line));
  let leaving = false;
  const leave = (code: number): void => {
    if (leaving) return;
    leaving = true;
    setTimeout(() => process.exit(code), SHUTDOWN_MS).unref();
    Promise.resolve()
      .then(shutdown)
      .catch((error: unknown) => console.error(error))
      .finally(() => process.exit(code));
  };
  lines.on('close', () => leave(0));

  async function run(line: string): Promise<void> {
    const [id = '', name = '', ...rest] = line.split(' ');
    try {
      const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
      if (command === undefined) throw new Error(`unknown command ${name}`);
      const args = rest.length === 0 ? [] : (JSON.parse(rest.join(' ')) as unknown[]);
      const result = await command(args);
      write(`${id} ok ${JSON.stringify(result ?? null)}`);
    } catch (error) {
      const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      write(`${id} error ${text.replace(/\n/g, ' ')}`);
    }
  }

  write(`ready ${JSON.stringify(info)}`);
}

/**
 * The children's logger: the default one (pino, level from `SEALROUTE_LOG`), but writing through
 * `process.stderr` rather than `pino.destination(2)`. With the latter, a child whose parent died (so its
 * standard error is a pipe nobody reads) hangs at exit: pino flushes synchronously on exit, and sonic-boom
 * 4.2's `flushSync` retries a failed write forever unless the error is EAGAIN (here it is EPIPE).
 */
export function childLogger(): Logger {
  process.stderr.on('error', () => undefined);
  return pino({ name: 'sealroute', level: process.env.SEALROUTE_LOG ?? 'info' }, process.stderr);
}

/** A turn of the event loop, so that a loop of sends that all complete at once still lets I/O in. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs the child's `main`; if it throws, says so on standard error and exits non-zero. */
export function runChild(main: () => Promise<void>): void {
  guardLifetime();
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

function write(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Exits if the parent is gone (re-parented) or the lifetime cap is reached. */
function guardLifetime(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(1);
  }, 1_000).unref();
  const lifetime = Number(process.env.SEALROUTE_CHILD_LIFETIME_MS ?? 0);
  if (lifetime > 0) {
    setTimeout(() => {
      console.error(`lifetime cap of ${lifetime} ms reached: exiting`);
      process.exit(70);
    }, lifetime).unref();
  }
}
