import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';
import { scaled } from './slowdown';

/** Examples run from the repository root, as a user would run them. */
const REPO_ROOT = resolve(__dirname, '..', '..');

/** How a spawned example ended. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Options of `SpawnedExample.start`. */
export interface SpawnOptions {
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Skip ts-node's type check (default true): a long-running example that a test starts and kills several
   * times would spend most of the test type-checking. `tsc --noEmit` checks the examples anyway.
   */
  readonly transpileOnly?: boolean;
}

/**
 * A long-running example (a server, a hub) as a real process that a test talks to and then stops or kills:
 * `runExample` in run-example.ts is for examples that run to completion. Standard output is kept and
 * matched line by line; standard error is kept for failure messages.
 */
export class SpawnedExample {
  private stdoutText = '';
  private stderrText = '';
  private readonly waiters = new Set<() => void>();
  /** Resolves once the process has exited. */
  readonly exited: Promise<ExitStatus>;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdoutText += chunk;
      for (const wake of this.waiters) wake();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderrText += chunk));
    // Writing to a process that has exited fails with EPIPE; the test sees the exit, not a crash of Jest.
    child.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => this.waiters.forEach((wake) => wake()));
  }

  /** Starts `file` (relative to the repository root) with ts-node. */
  static start(file: string, options: SpawnOptions = {}): SpawnedExample {
    const child = spawn(process.execPath, ['-r', 'ts-node/register', file, ...(options.args ?? [])], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        ...((options.transpileOnly ?? true) ? { TS_NODE_TRANSPILE_ONLY: 'true' } : {}),
        ...options.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new SpawnedExample(child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get stdout(): string {
    return this.stdoutText;
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** The first match of `pattern` in a line of standard output, waiting for it up to `timeoutMs` (scaled). */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const budget = scaled(timeoutMs);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        for (const line of this.stdoutText.split('\n')) {
          const match = line.match(pattern);
          if (match !== null) return finish(() => resolve(match));
        }
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          finish(() =>
            reject(new Error(`the process exited before printing ${pattern}\n${this.describe()}`)),
          );
        }
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(new Error(`no line matching ${pattern} within ${budget} ms\n${this.describe()}`)),
          ),
        budget,
      );
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Writes `line` and a newline to standard input (a user typing it). */
  write(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Closes standard input (Ctrl-D). */
  endInput(): void {
    this.child.stdin.end();
  }

  /** Sends `signal` and waits (up to `timeoutMs`, then SIGKILL) for the process to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<ExitStatus> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Both output streams, for assertion messages. */
  describe(): string {
    return `--- stdout ---\n${this.stdoutText}\n--- stderr ---\n${this.stderrText}`;
  }
}

/** The line examples/hub.ts prints once it listens on a loopback port; the match's group 1 is the address. */
export const HUB_LISTENING = /^Hub listening on (127\.0\.0\.1:[1-9]\d*)$/;

/**
 * examples/hub.ts as a process listening on `address` (logs at warn), killed outright (SIGKILL) by `cleanup`:
 * the hub the restart scenarios kill mid-traffic and start again on the same port.
 */
export function startHubExample(
  cleanup: { add(task: () => unknown): void },
  address: string,
): SpawnedExample {
  const hub = SpawnedExample.start('examples/hub.ts', { args: [address], env: { SEALROUTE_LOG: 'warn' } });
  cleanup.add(() => hub.stop('SIGKILL', 2_000));
  return hub;
}
