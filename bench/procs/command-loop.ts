/**
 * The child's side of the multi-process benchmarks (see spawn.ts): prints `ready ...`, then runs the
 * commands read from standard input one at a time, answering each with `result <words>` or
 * `error <message>` (`cpu` is always there: see `builtins`). When standard input closes (the parent stopped it, or died), it shuts down and exits.
 */
import { createInterface } from 'node:readline';

/** A command's handler: its arguments in, the words of its result out. */
export type Command = (args: readonly string[]) => Promise<string | number> | string | number;

/** Commands every program answers. */
const builtins: Readonly<Record<string, Command>> = {
  /** The CPU time this process has used so far (user + system, microseconds): for a CPU budget per round. */
  cpu: () => {
    const { user, system } = process.cpuUsage();
    return user + system;
  },
};

/** Announces `ready` with `words` and serves `commands` until standard input closes; then `shutdown`. */
export function serveCommands(
  words: readonly (string | number)[],
  commands: Readonly<Record<string, Command>>,
  shutdown: () => Promise<void> | void = () => undefined,
): void {
  let queue: Promise<void> = Promise.resolve();
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    queue = queue.then(async () => {
      const [name = '', ...args] = line.trim().split(/\s+/);
      const command = Object.hasOwn(commands, name) ? commands[name] : builtins[name];
      try {
        if (command === undefined) throw new Error(`unknown command ${name}`);
        answer(`result ${await command(args)}`);
      } catch (error) {
        answer(`error ${error instanceof Error ? error.message : String(error)}`.replace(/\n/g, ' '));
      }
    });
  });
  lines.on('close', () => {
    void queue
      .then(shutdown)
      .catch((error: unknown) => console.error(error))
      .finally(() => process.exit(0));
  });
  answer(['ready', ...words].join(' '));
}

/** Runs `main`; if it fails, says so on stderr and exits non-zero (the parent then reports its stderr). */
export function runProgram(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

function answer(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** The one positive integer argument of a command (a round's count). */
export function count(args: readonly string[]): number {
  const n = Number(args[0]);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`expected a count, got ${args[0]}`);
  return n;
}
