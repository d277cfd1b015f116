/**
 * The parent's side of the multi-process benchmarks: starts a program of bench/procs/ as a child process,
 * waits for its `ready ...` line, sends it commands on standard input and reads each answer (`result ...`
 * or `error ...`) from standard output. A child exits when its standard input closes, so children never
 * outlive a parent that dies; `stop()` also kills it by pid if it lingers.
 *
 * Children run JavaScript transpiled once by `transpiledTree` (tools/): under ts-node each child spent
 * 5-7 s of a busy 2-core machine compiling src/ again.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT, childEnv, transpiledTree } from '../../tools/transpiled-tree';

/** Start-up, on a shared 2-core machine that may be busy. */
const READY_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 5_000;

/** Children still running, killed if the parent exits without stopping them. */
const running = new Set<BenchProcess>();
process.once('exit', () => {
  for (const child of running) child.kill();
});

/** Options of `BenchProcess.start`. */
export interface StartOptions {
  /** Extra options for the child's `node` (e.g. `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /**
   * The folders the child needs, transpiled (default `src`, `bench` and `reliability/lib`, where the programs'
   * shared node start-up is): a program that imports nothing of src/ starts in a fraction of the time with
   * `['bench/procs']`.
   */
  readonly tree?: readonly string[];
}

/** A program of bench/procs/ running as a child process. */
export class BenchProcess {
  private readonly waiters: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  private stderrTail = '';
  private exitedWith: string | undefined;
  private readonly exited: Promise<void>;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly name: string,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    running.add(this);
    createInterface({ input: child.stdout }).on('line', (line) => this.onLine(line));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-4000);
      if (process.env.BENCH_CHILD_STDERR !== undefined) process.stderr.write(`[${name}] ${chunk}`);
    });
    this.exited = new Promise((done) =>
      child.once('exit', (code, signal) => {
        running.delete(this);
        this.exitedWith = `exited (${signal ?? code})`;
        for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure(this.exitedWith));
        done();
      }),
    );
  }

  /**
   * Starts `bench/procs/<program>.ts` with `args` and resolves, once it printed `ready <words...>`, with the
   * process and those words (a bound port, an address).
   */
  static async start(
    program: string,
    args: readonly string[] = [],
    options: StartOptions = {},
  ): Promise<{ process: BenchProcess; ready: string[] }> {
    const entry = join(
      transpiledTree(options.tree ?? ['src', 'bench', 'reliability/lib'], 'sealroute-bench-js-'),
      'bench',
      'procs',
      `${program}.js`,
    );
    const nodeArgs = [...profileArgs(program), ...extraNodeArgs(program), ...(options.nodeArgs ?? [])];
    const child = spawn(process.execPath, [...nodeArgs, entry, ...args], {
      cwd: REPO_ROOT,
      env: childEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const proc = new BenchProcess(program, child);
    let timer: NodeJS.Timeout | undefined;
    try {
      const line = await Promise.race([
        proc.nextLine(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(proc.failure('not ready in time')), READY_TIMEOUT_MS);
        }),
      ]);
      const words = line.split(' ');
      if (words[0] !== 'ready') throw proc.failure(`said "${line}" instead of ready`);
      return { process: proc, ready: words.slice(1) };
    } catch (error) {
      proc.kill();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends one command line and resolves with the words of its `result`; rejects on `error`. */
  command(line: string): Promise<string[]> {
    const answer = this.queue.then(async () => {
      if (this.exitedWith !== undefined) throw this.failure(this.exitedWith);
      const next = this.nextLine();
      this.child.stdin.write(`${line}\n`);
      const reply = await next;
      const [kind, ...words] = reply.split(' ');
      if (kind === 'result') return words;
      throw this.failure(`answered "${line}" with "${reply}"`);
    });
    this.queue = answer.catch(() => undefined);
    return answer;
  }

  /** The child's process id (for a profiler or `strace -p`). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** A command whose result is one number (a round's figure). */
  async figure(line: string): Promise<number> {
    const [value] = await this.command(line);
    const figure = Number(value);
    if (!Number.isFinite(figure)) throw this.failure(`answered "${line}" with ${value}`);
    return figure;
  }

  /** Closes its standard input (it then shuts down and exits), and kills it if it has not within 5 s. */
  async stop(): Promise<void> {
    this.child.stdin.end();
    const timer = setTimeout(() => this.kill(), EXIT_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL, by pid. */
  kill(): void {
    if (this.exitedWith === undefined && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  private onLine(line: string): void {
    // Anything else a program prints (a warning, `--trace-gc`'s lines) is not an answer.
    if (!/^(ready|result|error)\b/.test(line)) {
      if (process.env.BENCH_CHILD_STDOUT !== undefined) process.stderr.write(`[${this.name}] ${line}\n`);
      return;
    }
    this.waiters.shift()?.resolve(line);
  }

  private nextLine(): Promise<string> {
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private failure(what: string): Error {
    return new Error(`bench/procs/${this.name}.ts ${what}; its stderr ends:\n${this.stderrTail}`);
  }
}

const profiled = new Map<string, number>();

/**
 * With `BENCH_CPU_PROF=<dir>`, every child writes a CPU profile there when it exits: `<program>.cpuprofile`,
 * then `<program>-2.cpuprofile`... for more of one program (`npx ts-node bench/profile-summary.ts` reads them).
 */
function profileArgs(program: string): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  if (dir === undefined || dir === '') return [];
  const n = (profiled.get(program) ?? 0) + 1;
  profiled.set(program, n);
  const name = n === 1 ? program : `${program}-${n}`;
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`];
}

/**
 * `BENCH_NODE_ARGS_<program>` (a dash in the name as `_`: `BENCH_NODE_ARGS_byte_server`): more `node` options
 * for that child, space-separated, e.g. `BENCH_NODE_ARGS_bob=--trace-gc` with `BENCH_CHILD_STDOUT=1`.
 */
function extraNodeArgs(program: string): string[] {
  const args = process.env[`BENCH_NODE_ARGS_${program.replaceAll('-', '_')}`];
  return args === undefined ? [] : args.split(' ').filter((arg) => arg !== '');
}
