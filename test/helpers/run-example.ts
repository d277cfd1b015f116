import { spawn, type ChildProcessByStdio, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Readable } from 'node:stream';
import { resolve } from 'node:path';
import { scaled } from './slowdown';

/** The repository root: examples run from there, as a user would run them. */
export const REPO_ROOT = resolve(__dirname, '..', '..');

/** How an example process ended. */
export interface ExampleResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Non-empty standard output lines, trimmed. */
  readonly lines: string[];
  readonly durationMs: number;
  /** True when the process was killed for running past its timeout. */
  readonly timedOut: boolean;
}

/** Options of `runExample`. */
export interface RunExampleOptions {
  /** Kill the process after this long (scaled by the measured slowdown). Default 60 s. */
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly args?: readonly string[];
}

/**
 * Node with ts-node's require hook, from the repository root, output piped. ts-node transpiles with SWC
 * (tsconfig.json's "ts-node" section), as it does for a user; `npm run typecheck` checks the types.
 */
function spawnExample(file: string, options: RunExampleOptions) {
  return spawn(process.execPath, ['-r', 'ts-node/register', file, ...(options.args ?? [])], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Runs an example (path relative to the repository root) as a real process through ts-node, configured
 * exactly as for a user (so decorator metadata is emitted the same way). Never rejects for a failing
 * example: the caller asserts on the exit code and output.
 */
export function runExample(file: string, options: RunExampleOptions = {}): Promise<ExampleResult> {
  const child = spawnExample(file, options);
  return collectRun(child, scaled(options.timeoutMs ?? 60_000), () => child.kill('SIGKILL'));
}

/**
 * Gathers a child's output until it closes, killing it with `kill` after `timeoutMs` (already scaled).
 * Never rejects: a child that fails to start ends with its spawn error in `stderr` and no exit code.
 */
export function collectRun(
  child: ChildProcessWithoutNullStreams | ChildProcessByStdio<null, Readable, Readable>,
  timeoutMs: number,
  kill: () => void,
): Promise<ExampleResult> {
  const started = Date.now();
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, timeoutMs);
  return new Promise((resolveResult) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      resolveResult({
        code,
        signal,
        stdout,
        stderr,
        lines: stdout
          .split('\n')
          .map((line) => line.trim())
          .filter((line) => line.length > 0),
        durationMs: Date.now() - started,
        timedOut,
      });
    };
    child.on('error', (err) => {
      stderr += `${String(err)}\n`;
      finish(null, null);
    });
    child.on('close', finish);
  });
}

/** A readable summary for assertion messages: exit status plus both streams. */
export function describeRun(result: ExampleResult): string {
  return [
    `exit ${result.code ?? result.signal}${result.timedOut ? ' (timed out)' : ''} in ${result.durationMs} ms`,
    `--- stdout ---\n${result.stdout}`,
    `--- stderr ---\n${result.stderr}`,
  ].join('\n');
}

/** A long-running example process (a hub, a listener) that a test drives and then stops. */
export interface RunningExample {
  /** Standard output so far. */
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the first stdout line matching `pattern`; rejects on exit or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends `signal` (default SIGINT, a graceful stop) and resolves with the exit code and signal. */
  stop(
    signal?: NodeJS.Signals,
    timeoutMs?: number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts an example that keeps running (for example a hub that Alice and Bob connect to). The caller must
 * `stop()` it; `stop` escalates to SIGKILL when the process ignores the signal for `timeoutMs`.
 */
export function startExample(
  file: string,
  options: Omit<RunExampleOptions, 'timeoutMs'> = {},
): RunningExample {
  const child = spawnExample(file, options);
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const listener of listeners) listener();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.on('error', (err) => (stderr += `${String(err)}\n`));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.on('close', (code, signal) => {
      done = true;
      resolveExit({ code, signal });
      for (const listener of listeners) listener();
    }),
  );

  return {
    stdout: () => stdout,
    stderr: () => stderr,
    waitForLine(pattern, timeoutMs = 60_000) {
      const budget = scaled(timeoutMs);
      return new Promise((resolveLine, reject) => {
        const check = () => {
          const line = stdout.split('\n').find((candidate) => pattern.test(candidate));
          if (line !== undefined) finish(() => resolveLine(line));
          else if (done)
            finish(() => reject(new Error(`${file} exited before printing ${pattern}\n${stderr}`)));
        };
        const timer = setTimeout(
          () =>
            finish(() =>
              reject(
                new Error(`${file} did not print ${pattern} within ${timeoutMs} ms (scaled: ${budget} ms)`),
              ),
            ),
          budget,
        );
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async stop(signal = 'SIGINT', timeoutMs = 10_000) {
      if (!done) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
