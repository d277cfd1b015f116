import { spawn } from 'node:child_process';
import { REPO_ROOT, collectRun, type ExampleResult } from './run-example';
import { scaled } from './slowdown';

/** An `npm run` script running as a process group of its own, so that it can be killed with its children. */
export interface RunningScript {
  /** How it ended; never rejects (a script that fails to start ends with its spawn error in `stderr`). */
  readonly result: Promise<ExampleResult>;
  /** Kills the whole process group (npm, the script, and every process the script started). */
  kill(): void;
}

/**
 * Runs `npm run <script>` from the repository root, as a user would. The script may start processes of its
 * own (the demo starts three): they share its process group, which is killed whole after `timeoutMs` or on
 * `kill()`, so a hung or failed run leaves nothing behind.
 */
export function runNpmScript(
  script: string,
  options: { timeoutMs: number; env?: NodeJS.ProcessEnv },
): RunningScript {
  const child = spawn('npm', ['run', '--silent', script], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let done = false;
  const kill = (): void => {
    if (done || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is already gone
    }
  };
  const result = collectRun(child, scaled(options.timeoutMs), kill).finally(() => (done = true));
  return { result, kill };
}
