/**
 * The parent's side of the reliability programs: starts a program of reliability/procs/ as a child
 * process, waits for its `ready <json>` line and calls its commands (see procs/serve.ts for the protocol).
 *
 * Children run JavaScript transpiled once by this process into a temporary directory (removed on exit):
 * under ts-node every child would compile src/ again (seconds of a busy 2-core machine each) and carry the
 * TypeScript compiler in the very heap it measures. They run with `--expose-gc`.
 *
 * Children die with the parent: each is SIGKILLed when the parent exits, on SIGINT/SIGTERM too; a parent
 * killed outright closes their standard input, on which they exit; and each has a lifetime cap.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT, childEnv, transpiledTree } from '../../tools/transpiled-tree';

const OUT_PREFIX = 'sealroute-reliability-';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 6_000;

const running = new Set<Child>();
let hooked = false;

function killAll(): void {
  for (const child of running) child.signal('SIGKILL');
}

/** Kills every child when this process exits or is interrupted; removes the transpiled code. */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    killAll();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: killing the child processes`);
      killAll();
      process.exit(130);
    });
  }
}

/** Options of `Child.start`. */
export interface ChildOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** The child exits by itself after this long, whatever happens. Default 30 minutes. */
  readonly lifetimeMs?: number;
  /** Copy the child's standard error (its log) to ours. */
  readonly echoStderr?: boolean;
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

/** A program of reliability/procs/ running as a child process. */
export class Child {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderrTail = '';
  private exitedWith: string | undefined;
  private onReady: ((line: string) => void) | undefined;
  /** Resolves when the process has exited, with its exit code or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcessWithoutNullStreams,
    echoStderr: boolean,
  ) {
    running.add(this);
    createInterface({ input: child.stdout }).on('line', (line) => this.onLine(line));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-3000);
      if (echoStderr) process.stderr.write(`[${name}] ${chunk}`);
    });
    child.stdin.on('error', () => undefined); // writing to a child that just died
    this.exited = new Promise((done) =>
      child.once('exit', (code, signal) => {
        running.delete(this);
        this.exitedWith = signal === null ? `exited with code ${code}` : `was killed by ${signal}`;
        for (const call of this.pending.values()) call.reject(this.failure(this.exitedWith));
        this.pending.clear();
        done({ code, signal });
      }),
    );
  }

  /** Starts `reliability/procs/<program>.ts` and resolves once it is ready, with what it announced. */
  static async start<R = unknown>(
    name: string,
    program: string,
    args: readonly string[] = [],
    options: ChildOptions = {},
  ): Promise<{ child: Child; ready: R }> {
    hookExit();
    const entry = join(
      transpiledTree(['src', 'reliability'], OUT_PREFIX),
      'reliability',
      'procs',
      `${program}.js`,
    );
    const child = spawn(process.execPath, ['--expose-gc', entry, ...args], {
      cwd: REPO_ROOT,
      env: childEnv({
        SEALROUTE_LOG: process.env.SEALROUTE_LOG ?? 'warn',
        SEALROUTE_CHILD_LIFETIME_MS: String(options.lifetimeMs ?? 30 * 60_000),
        ...options.env,
      }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const proc = new Child(name, child, options.echoStderr ?? false);
    let timer: NodeJS.Timeout | undefined;
    try {
      const line = await Promise.race([
        new Promise<string>((resolve) => (proc.onReady = resolve)),
        proc.exited.then(() => Promise.reject(proc.failure(proc.exitedWith ?? 'exited'))),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(proc.failure('was not ready in time')), READY_TIMEOUT_MS);
        }),
      ]);
      return { child: proc, ready: JSON.parse(line) as R };
    } catch (error) {
      proc.signal('SIGKILL');
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The process id. */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  get isRunning(): boolean {
    return this.exitedWith === undefined;
  }

  /** Calls a command; rejects with its error, or after `timeoutMs`. */
  call<T = unknown>(command: string, args: readonly unknown[] = [], timeoutMs = 120_000): Promise<T> {
    if (this.exitedWith !== undefined) return Promise.reject(this.failure(this.exitedWith));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(this.failure(`did not answer ${command} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (value) => (clearTimeout(timer), resolve(value as T)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      this.child.stdin.write(`${id} ${command} ${JSON.stringify(args)}\n`);
    });
  }

  /** Sends a signal by pid (SIGKILL, SIGSTOP, SIGCONT); nothing if it has exited. */
  signal(signal: NodeJS.Signals): void {
    if (this.exitedWith !== undefined || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, signal);
    } catch {
      // already gone
    }
  }

  /** Kills it with SIGKILL (a crash) and resolves once it is gone. */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  /**
   * Stops it gracefully: closes its standard input (it shuts its node down and exits), and SIGKILLs it if
   * it has not exited within `timeoutMs`. Resolves with its exit code (null if it had to be killed).
   */
  async stop(timeoutMs = STOP_TIMEOUT_MS): Promise<number | null> {
    if (this.exitedWith === undefined) {
      this.signal('SIGCONT'); // a stopped process cannot read its closed input
      this.child.stdin.end();
    }
    const timer = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    const { code } = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** The end of what it wrote to standard error. */
  get log(): string {
    return this.stderrTail;
  }

  private onLine(line: string): void {
    if (this.onReady !== undefined && line.startsWith('ready ')) {
      const ready = this.onReady;
      this.onReady = undefined;
      ready(line.slice('ready '.length));
      return;
    }
    const match = /^(\d+) (ok|error) (.*)$/.exec(line);
    if (match === null) return;
    const call = this.pending.get(Number(match[1]));
    if (call === undefined) return;
    this.pending.delete(Number(match[1]));
    if (match[2] === 'ok') call.resolve(JSON.parse(match[3]!));
    else call.reject(this.failure(`answered: ${match[3]}`));
  }

  private failure(what: string): Error {
    const tail = this.stderrTail.trim();
    return new Error(
      `${this.name} (pid ${this.pid}) ${what}${tail === '' ? '' : `; its stderr ends:\n${tail}`}`,
    );
  }
}

/** Stops every child still running (gracefully, then by force). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((child) => child.stop()));
}

/**
 * Runs a reliability program's `main` under a time limit: exits non-zero when it fails, throws, or takes
 * longer than `limitMs`; stops every child either way.
 */
export function runProgram(main: () => Promise<boolean>, limitMs: number): void {
  hookExit();
  const started = Date.now();
  const limit = setTimeout(() => {
    console.error(`\nFAILED: the time limit of ${Math.round(limitMs / 1000)} s was reached`);
    killAll();
    process.exit(2);
  }, limitMs);
  limit.unref();
  main()
    .then(
      (passed) => {
        console.log(`\n${passed ? 'PASSED' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        process.exitCode = passed ? 0 : 1;
      },
      (error: unknown) => {
        console.error('\nFAILED:', error);
        process.exitCode = 1;
      },
    )
    .finally(async () => {
      await stopAll();
      clearTimeout(limit);
    });
}
