/**
 * TCP portals, every party a process of its own on 127.0.0.1 (bench/procs/): one unmodified client
 * (tcp-client.ts, or redis-benchmark) talks to a server (byte-server.ts's raw listener, or redis-server)
 * three ways in the same run: through a portal (the client -> Alice's inlet -> hub -> Bob's outlet -> the
 * server), through a relay that only pipes bytes (tcp_relay, the floor for any hub), and through a TLS 1.3
 * tunnel through that relay (tls-tunnel.ts client -> relay -> tls-tunnel.ts server -> the server, as stunnel
 * would be, with client certificates: the baseline the goals compare with). See bench/README.md.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { CpuPerOp, childMeter, type CpuMeter } from './cpu-per-op';
import { type Round, type Suite } from './harness';
import { certificateDir } from './procs/self-signed-cert';
import { BenchProcess, type StartOptions } from './procs/spawn';

/**
 * 64 KiB writes per bulk round at scale 1 (33 MB), every variant. The harness scales each variant's count
 * until its round lasts ~400 ms (`RoundRun.scale`), as it does the two below.
 */
const BULK_N = 500;
/** New TCP sessions per connect round at scale 1, every variant. */
const CONNECT_N = 100;
/** Requests per redis-benchmark round at scale 1 (GET and SET each), 20 connections. */
const REDIS_N = 10_000;

interface Ports {
  readonly portal: { readonly bytes: number; readonly redis: number };
  readonly relay: { readonly bytes: number };
  readonly tunnel: { readonly bytes: number; readonly redis: number };
  readonly redis: number;
}

/** The processes a variant's bytes cross, besides the client and the server (see `cpuRound`). */
interface Path {
  readonly portal: readonly Named[];
  readonly relay: readonly Named[];
  readonly tunnel: readonly Named[];
}

/** A process and the name the CPU figures give it (the tunnel's two ends are the same program). */
type Named = readonly [string, BenchProcess];

let state:
  | {
      children: BenchProcess[];
      redis: ChildProcess;
      certs: string;
      ports: Ports;
      client: BenchProcess;
      path: Path;
    }
  | undefined;

function running(): NonNullable<typeof state> {
  if (state === undefined) throw new Error('the portal suite was not set up');
  return state;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function startRedis(): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  for (let i = 0; ; i++) {
    try {
      const { stdout } = await promisify(execFile)('redis-cli', ['-p', String(port), 'PING']);
      if (stdout.includes('PONG')) return { child, port };
    } catch {
      // not up yet
    }
    if (i > 100) throw new Error('redis-server did not start (apt-get install redis-server redis-tools)');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts the processes. With `BENCH_CPU_PROF=<dir>`, each writes a CPU profile there when it exits,
 * `<program>.cpuprofile` (the tunnel's two ends `tls-tunnel-server` and `tls-tunnel-client`).
 */
async function setup(): Promise<void> {
  const profile = process.env.BENCH_CPU_PROF;
  const certs = certificateDir();
  const children: BenchProcess[] = [];
  const byName = new Map<string, BenchProcess>();
  const start = async (program: string, args: readonly string[]): Promise<string[]> => {
    const name = program === 'tls-tunnel' ? `${program}-${args[0]}` : program;
    const options: StartOptions = profile
      ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profile}`, `--cpu-prof-name=${name}.cpuprofile`] }
      : {};
    const { process: child, ready } = await BenchProcess.start(program, args, options);
    children.push(child);
    byName.set(name, child);
    return ready;
  };
  const redis = await startRedis();
  try {
    const [[hub], [bytes]] = await Promise.all([start('hub', []), start('byte-server', [certs])]);
    const targets = [bytes!, String(redis.port)];
    const [[forwardingAddress], tunnelServer] = await Promise.all([
      start('portal-bob', [hub!, ...targets]),
      start('tls-tunnel', ['server', certs, ...targets]),
    ]);
    const relay = await start('relay', [bytes!, ...tunnelServer]);
    const [inlets, tunnelClient] = await Promise.all([
      start('portal-alice', [hub!, forwardingAddress!, '2']),
      start('tls-tunnel', ['client', certs, relay[1]!, relay[2]!]),
    ]);
    await start('tcp-client', []);
    const named = (...names: string[]): Named[] => names.map((name) => [name, byName.get(name)!]);
    state = {
      children,
      redis: redis.child,
      certs,
      client: children.at(-1)!,
      path: {
        portal: named('portal-alice', 'hub', 'portal-bob'),
        relay: named('relay'),
        tunnel: named('tls-tunnel-client', 'relay', 'tls-tunnel-server'),
      },
      ports: {
        portal: { bytes: Number(inlets[0]), redis: Number(inlets[1]) },
        relay: { bytes: Number(relay[0]) },
        tunnel: { bytes: Number(tunnelClient[0]), redis: Number(tunnelClient[1]) },
        redis: redis.port,
      },
    };
  } catch (error) {
    await Promise.all(children.map((child) => child.stop()));
    redis.child.kill();
    rmSync(certs, { recursive: true, force: true });
    throw error;
  }
}

async function teardown(): Promise<void> {
  cpu.print();
  if (state === undefined) return;
  const { children, redis, certs } = state;
  state = undefined;
  for (const child of children.reverse()) await child.stop();
  redis.kill();
  rmSync(certs, { recursive: true, force: true });
}

const cpu = new CpuPerOp('portal suite: CPU time per operation, median over the rounds (us)', 1);

/** A round of `ops` operations through `variant`, with the CPU time of each process on its path recorded. */
function cpuRound(label: string, variant: keyof Path, ops: number, round: Round): Round {
  const meters = (): CpuMeter[] => running().path[variant].map(([name, child]) => childMeter(child, name));
  return cpu.metered(label, meters, ops, round);
}

/**
 * A round of the one client, `command` naming the port of `variant` and the count, `ops` times the round's
 * scale; an operation is one of those.
 */
function clientRound(
  label: string,
  variant: keyof Path,
  ops: number,
  command: (ports: Ports, n: number) => string,
): Round {
  return cpuRound(label, variant, ops, (run) =>
    running().client.figure(command(running().ports, ops * run.scale)),
  );
}

/** redis-benchmark GET and SET at `port`: the mean of the two rates, requests/s. */
function redisRound(label: string, variant: keyof Path | 'direct', port: (ports: Ports) => number): Round {
  const round: Round = async (run) => {
    const args = ['-h', '127.0.0.1', '-p', String(port(running().ports)), '-t', 'get,set'];
    args.push('-n', String(REDIS_N * run.scale), '-c', '20', '--csv');
    const { stdout } = await promisify(execFile)('redis-benchmark', args);
    const rates = [...stdout.matchAll(/^"(SET|GET)","([\d.]+)"/gm)].map((m) => Number(m[2]));
    if (rates.length !== 2) throw new Error(`redis-benchmark printed ${stdout}`);
    return (rates[0]! + rates[1]!) / 2;
  };
  return variant === 'direct' ? round : cpuRound(label, variant, 2 * REDIS_N, round);
}

export const suite: Suite = {
  name: 'portal',
  setup,
  teardown,
  benchmarks: [
    {
      name: 'portal.bulk',
      unit: 'MB/s',
      candidate: clientRound(
        'bulk (64 KiB write)',
        'portal',
        BULK_N,
        (p, n) => `bulk ${p.portal.bytes} ${n}`,
      ),
      baseline: {
        name: 'tls_tunnel',
        round: clientRound('bulk.tls_tunnel', 'tunnel', BULK_N, (p, n) => `bulk ${p.tunnel.bytes} ${n}`),
      },
      comparisons: [
        {
          name: 'tcp_relay',
          round: clientRound('bulk.tcp_relay', 'relay', BULK_N, (p, n) => `bulk ${p.relay.bytes} ${n}`),
        },
      ],
      goals: { ratioAtLeast: 0.8 },
      scalable: true,
    },
    {
      name: 'portal.redis',
      unit: 'requests/s',
      candidate: redisRound('redis (request)', 'portal', (p) => p.portal.redis),
      baseline: {
        name: 'tls_tunnel',
        round: redisRound('redis.tls_tunnel', 'tunnel', (p) => p.tunnel.redis),
      },
      comparisons: [{ name: 'direct', round: redisRound('redis.direct', 'direct', (p) => p.redis) }],
      goals: { ratioAtLeast: 0.8 },
      scalable: true,
    },
    {
      name: 'portal.connect',
      unit: 'sessions/s',
      candidate: clientRound(
        'connect (session)',
        'portal',
        CONNECT_N,
        (p, n) => `connect ${p.portal.bytes} ${n}`,
      ),
      baseline: {
        name: 'tls_tunnel',
        round: clientRound(
          'connect.tls_tunnel',
          'tunnel',
          CONNECT_N,
          (p, n) => `connect ${p.tunnel.bytes} ${n}`,
        ),
      },
      comparisons: [
        {
          name: 'tcp_relay',
          round: clientRound(
            'connect.tcp_relay',
            'relay',
            CONNECT_N,
            (p, n) => `connect ${p.relay.bytes} ${n}`,
          ),
        },
      ],
      scalable: true,
    },
  ],
};
