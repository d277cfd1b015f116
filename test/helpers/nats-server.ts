import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from './tcp-fixtures';

/** Where the tests look for nats-server (Debian's package installs it in /usr/sbin). */
export const NATS_SERVER =
  process.env.NATS_SERVER ??
  ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find(existsSync);

/**
 * Whether the tests can start nats-server. Missing, the federation tests are skipped with a loud notice,
 * except under CI=true, where that is a failure (.ci/run installs it).
 */
export function natsServerAvailable(): boolean {
  if (NATS_SERVER !== undefined && spawnSync(NATS_SERVER, ['--version']).status === 0) return true;
  const notice =
    'nats-server is not installed: the federation tests need it. Install it with ' +
    '`apt-get install nats-server` (Debian) or set NATS_SERVER=/path/to/nats-server.';
  if (process.env.CI === 'true') throw new Error(notice);
  console.warn(`\n!!!!!!!!!! SKIPPED: ${notice} !!!!!!!!!!\n`);
  return false;
}

/** A nats-server process a test started, on a free port of 127.0.0.1. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly name: string;
  readonly process: ChildProcess;
  /** Everything it logged (for failure messages). */
  log(): string;
  /** Sends `signal` and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Options of `startNatsServer`. */
export interface NatsServerOptions {
  /** Extra configuration (nats-server's format), after the JetStream limits. */
  readonly config?: string;
  readonly name?: string;
  /** The cluster port of this server, and of the others (3-node clusters). */
  readonly cluster?: { readonly port: number; readonly routes: readonly number[] };
}

/** A free TCP port of 127.0.0.1 (for cluster routes, which must be known before the servers start). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts nats-server with JetStream on a free client port (`-p -1`: never `-p 0`, which means 4222, the
 * machine's own NATS), its storage and ports file in a fresh temporary directory, JetStream limits in a
 * config file. It is killed, and its directory removed, by `cleanup`.
 */
export async function startNatsServer(
  cleanup: Cleanup,
  options: NatsServerOptions = {},
): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sealroute-nats-'));
  const name = options.name ?? `n${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const cluster =
    options.cluster === undefined
      ? ''
      : `cluster { name: sealroute-test, listen: "127.0.0.1:${options.cluster.port}", ` +
        `routes: [${options.cluster.routes.map((p) => `"nats-route://127.0.0.1:${p}"`).join(', ')}] }\n`;
  const config =
    `server_name: ${name}\n` +
    `jetstream { max_memory_store: 64MB, max_file_store: 256MB }\n` +
    cluster +
    (options.config ?? '');
  writeFileSync(join(dir, 'server.conf'), config);
  const args = ['-c', join(dir, 'server.conf'), '-a', '127.0.0.1', '-p', '-1', '-js', '-sd', join(dir, 'js')];
  args.push('--ports_file_dir', dir);
  const child = spawn(NATS_SERVER!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let done = false;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (!done) child.kill(signal);
    done = true;
    await exited;
  };
  cleanup.add(async () => {
    await kill();
    rmSync(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const file = readdirSync(dir).find((f) => f.endsWith('.ports'));
    if (file !== undefined) {
      try {
        const ports = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nats?: string[] };
        const url = ports.nats?.[0];
        if (url !== undefined) return { url, name, process: child, log: () => output, kill };
      } catch {
        // written but not complete yet
      }
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`nats-server did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Three nats-servers in one JetStream cluster (routes on free ports). */
export async function startNatsCluster(cleanup: Cleanup, config?: string): Promise<NatsServer[]> {
  const ports = [await freePort(), await freePort(), await freePort()];
  return Promise.all(
    ports.map((port, i) =>
      startNatsServer(cleanup, {
        name: `n${i + 1}-${process.pid}`,
        config,
        cluster: { port, routes: ports.filter((p) => p !== port) },
      }),
    ),
  );
}
