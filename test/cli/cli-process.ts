/**
 * The `sealroute` binary as a process, for the tests in this folder. src/ is transpiled once per test file
 * (tools/transpiled-tree.ts: what ts-node's transpile-only mode does) and run as plain JavaScript, as the
 * built package runs, so that each command starts in a fraction of the time ts-node takes.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childEnv, transpiledTree } from '../../tools/transpiled-tree';
import { scaled } from '../helpers/slowdown';

/** The transpiled CLI entry. */
export function cliEntry(): string {
  return join(transpiledTree(['src'], 'sealroute-cli-test-'), 'src', 'cli', 'main.js');
}

/** A scratch config directory (`SEALROUTE_CONFIG_DIR`), removed by `cleanup`. */
export function scratchDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sr-cli-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A scratch config directory and the processes started in it, for one test file (see `cliSession`). */
export interface CliSession {
  /** The scratch directory; the config directory is `config` inside it. */
  readonly dir: string;
  /** The environment every command of the session runs with. */
  readonly env: NodeJS.ProcessEnv;
  /** Starts a long-running command, stopped after the file's tests. */
  start(args: readonly string[]): CliProcess;
  /** Runs a command that must succeed; resolves with its standard output. */
  ok(args: readonly string[]): Promise<string>;
}

/**
 * A session for a test file that drives the CLI: a scratch directory whose `config` folder is
 * `SEALROUTE_CONFIG_DIR`, silent logs unless `env` says otherwise, and an `afterAll` that stops every process
 * `start` began, then removes the directory. Call it at the top level of the file.
 */
export function cliSession(env: NodeJS.ProcessEnv = {}): CliSession {
  const scratch = scratchDir();
  const sessionEnv = { SEALROUTE_CONFIG_DIR: join(scratch.dir, 'config'), SEALROUTE_LOG: 'silent', ...env };
  const processes: CliProcess[] = [];
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    scratch.cleanup();
  });
  return {
    dir: scratch.dir,
    env: sessionEnv,
    start(args) {
      const child = CliProcess.start(args, sessionEnv);
      processes.push(child);
      return child;
    },
    async ok(args) {
      const result = await runCli(args, sessionEnv);
      if (result.code !== 0) throw new Error(`sealroute ${args.join(' ')}: ${result.code} ${result.stderr}`);
      return result.stdout;
    },
  };
}

/** How a one-shot command ended. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs `sealroute ...args` to completion (killed after `timeoutMs`, scaled). */
export function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 30_000,
): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliEntry(), ...args], {
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), scaled(timeoutMs));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** A long-running command (`hub start`, `node start`): output matched line by line, stopped by the test. */
export class CliProcess {
  private out = '';
  private err = '';
  private readonly wakers = new Set<() => void>();
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.out += chunk;
      this.wakers.forEach((wake) => wake());
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.err += chunk;
      this.wakers.forEach((wake) => wake());
    });
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    void this.exited.then(() => this.wakers.forEach((wake) => wake()));
  }

  static start(args: readonly string[], env: NodeJS.ProcessEnv): CliProcess {
    return new CliProcess(
      spawn(process.execPath, [cliEntry(), ...args], { env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe'] }),
    );
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  /** Waits for `pattern` in standard output (or standard error with `stream`), returning the match. */
  async waitFor(
    pattern: RegExp,
    stream: 'stdout' | 'stderr' = 'stdout',
    timeoutMs = 30_000,
  ): Promise<RegExpMatchArray> {
    const deadline = Date.now() + scaled(timeoutMs);
    for (;;) {
      const match = (stream === 'stdout' ? this.out : this.err).match(pattern);
      if (match !== null) return match;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`the process exited before ${pattern}: stdout ${this.out} stderr ${this.err}`);
      }
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${pattern}: stdout ${this.out} stderr ${this.err}`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.wakers.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, Math.max(10, deadline - Date.now()));
        this.wakers.add(wake);
      });
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within a few seconds; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), scaled(10_000));
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
