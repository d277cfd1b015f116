import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { scaled } from '../helpers/slowdown';
import type { Cleanup } from '../helpers/tcp-fixtures';
import { freePort } from './portal-fixtures';

export const run = promisify(execFile);

export const PG_BIN = '/usr/lib/postgresql/15/bin';

/** Whether every program is installed; if not, a loud notice (how to install), or a failure under CI=true. */
export function programsAvailable(
  what: string,
  programs: readonly string[],
  debianPackages: string,
): boolean {
  const missing = programs.filter((program) => !existsSync(program) && !onPath(program));
  if (missing.length === 0) return true;
  const notice = `${what}: ${missing.join(', ')} not installed. Install with: apt-get install -y ${debianPackages}`;
  if (process.env.CI === 'true') throw new Error(`${notice} (CI=true: missing programs are a failure)`);
  console.warn(`\n!!! SKIPPING ${notice}\n`);
  return false;
}

function onPath(program: string): boolean {
  if (program.includes('/')) return false;
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Waits until `probe` resolves true (polled every 100 ms), or throws after `timeoutMs` (scaled). */
async function until(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + scaled(timeoutMs);
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${scaled(timeoutMs)} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Stops a child and waits for its exit (SIGKILL after 5 s). */
async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function uidOf(user: string): { uid: number; gid: number } {
  return {
    uid: Number(execFileSync('id', ['-u', user]).toString().trim()),
    gid: Number(execFileSync('id', ['-g', user]).toString().trim()),
  };
}

/**
 * A PostgreSQL 15 of its own: a fresh cluster in a temporary directory (trust authentication), listening on
 * 127.0.0.1 at a free port. PostgreSQL refuses to run as root, so when the tests run as root it runs as the
 * `postgres` user. Stopped (fast shutdown) and deleted by `cleanup`.
 */
export async function startPostgres(cleanup: Cleanup): Promise<{ port: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sealroute-pg-'));
  const user = process.getuid?.() === 0 ? uidOf('postgres') : undefined;
  if (user !== undefined) chownSync(dir, user.uid, user.gid);
  const asUser = user ?? {};
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data');
  const env = { ...process.env, LC_ALL: 'C', HOME: dir };
  await run(
    join(PG_BIN, 'initdb'),
    ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'],
    {
      ...asUser,
      env,
    },
  );
  const port = await freePort();
  const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1'];
  args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const child = spawn(join(PG_BIN, 'postgres'), args, { ...asUser, env, stdio: 'ignore' });
  cleanup.add(() => stop(child, 'SIGINT'));
  await until(
    async () =>
      (await run(join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)])).stdout.includes(
        'accepting',
      ),
    20_000,
    'PostgreSQL to accept connections',
  );
  return { port };
}

/** A Redis of its own on 127.0.0.1 at a free port, without persistence; stopped by `cleanup`. */
export async function startRedis(cleanup: Cleanup): Promise<{ port: number }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir()],
    { stdio: 'ignore' },
  );
  cleanup.add(() => stop(child, 'SIGTERM'));
  await until(
    async () =>
      (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'PING'])).stdout.includes('PONG'),
    10_000,
    'Redis to answer PING',
  );
  return { port };
}
