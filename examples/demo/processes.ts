import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

const root = path.resolve(__dirname, '..', '..');

/** A program of examples/ running as its own process, with its output readable line by line. */
export class ExampleProcess {
  private readonly lines: string[] = [];
  /** Everything the process wrote to standard error. */
  errors = '';
  private readonly waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  readonly exited: Promise<number | null>;

  private constructor(
    readonly name: string,
    readonly child: ChildProcessWithoutNullStreams,
    echo: boolean,
  ) {
    const out = readline.createInterface({ input: child.stdout });
    out.on('line', (line) => {
      if (echo) console.log(`  ${name.padEnd(5)} | ${line}`);
      this.lines.push(line);
      const index = this.waiters.findIndex((w) => w.test(line));
      if (index >= 0) this.waiters.splice(index, 1)[0]!.resolve(line);
    });
    // Each program also prints its own prompts without newlines; those arrive with the next line.
    child.stderr.on('data', (chunk: Buffer) => {
      this.errors += chunk.toString();
      if (echo) process.stderr.write(`  ${name} (stderr) | ${chunk.toString()}`);
    });
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  /** Starts `examples/<file>` with ts-node; `env` is added to this process's environment. */
  static start(
    name: string,
    file: string,
    args: string[],
    options: { echo?: boolean; env?: NodeJS.ProcessEnv } = {},
  ): ExampleProcess {
    const child = spawn(
      process.execPath,
      [require.resolve('ts-node/dist/bin'), path.join(root, 'examples', file), ...args],
      {
        cwd: root,
        env: { ...process.env, SEALROUTE_LOG: process.env.SEALROUTE_LOG ?? 'warn', ...options.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    return new ExampleProcess(name, child, options.echo ?? true);
  }

  /** The first line (already printed or still to come) that matches, or a rejection after `timeoutMs`. */
  waitForLine(test: RegExp | ((line: string) => boolean), timeoutMs = 30_000): Promise<string> {
    const match = typeof test === 'function' ? test : (line: string) => test.test(line);
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: no line matching ${String(test)} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({ test: match, resolve: (line) => (clearTimeout(timer), resolve(line)) });
    });
  }

  /** The line that follows the first line matching `test`. */
  async lineAfter(test: RegExp, timeoutMs = 30_000): Promise<string> {
    const first = await this.waitForLine(test, timeoutMs);
    const index = this.lines.indexOf(first);
    return this.waitForLine((line) => this.lines.indexOf(line) === index + 1, timeoutMs);
  }

  write(line: string): void {
    this.child.stdin.write(line + '\n');
  }

  endInput(): void {
    this.child.stdin.end();
  }

  /** Asks the process to stop (SIGINT, like Ctrl-C), killing it if it has not exited after `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGINT');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
