/**
 * A secure channel through a hub, every party a process of its own on 127.0.0.1 (bench/procs/): Alice opens
 * a channel through the hub to Bob's listener, behind Bob's forwarder. Beside it, in the same run, the same
 * exchanges between a plain client and server (byte-client.ts, byte-server.ts) through a relay process that
 * only pipes bytes (relay.ts): over raw TCP, the floor for any hub, and over TLS 1.3, the usual way to
 * encrypt them. Processes wait on sockets, so rounds are timed on the wall clock, by the process that
 * drives them (Alice or the client). See bench/README.md.
 */
import { rmSync } from 'node:fs';
import { reportingDrops } from './counted-drops';
import { CpuPerOp, childMeter, type CpuMeter } from './cpu-per-op';
import { type Round, type Suite } from './harness';
import { certificateDir } from './procs/self-signed-cert';
import { BenchProcess } from './procs/spawn';

/**
 * Round trips per round at scale 1, every variant: ~0.4 s through the hub on a quiet machine. The harness
 * scales each variant's count until its round lasts ~400 ms (`RoundRun.scale`).
 */
const RTT_N = 2_000;
/** 64 KiB messages per round at scale 1 (33 MB), every variant: ~0.3 s through the hub. */
const BULK_N = 500;
/** New channels (or TLS connections) per round at scale 1, every variant: ~0.2 s through the hub. */
const HANDSHAKE_N = 60;

interface Processes {
  readonly hub: BenchProcess;
  readonly bob: BenchProcess;
  readonly alice: BenchProcess;
  readonly server: BenchProcess;
  readonly relay: BenchProcess;
  readonly client: BenchProcess;
  readonly certs: string;
}

let processes: Processes | undefined;

function running(): Processes {
  if (processes === undefined) throw new Error('the hub suite was not set up');
  return processes;
}

/** Starts the processes, two or three at a time (each profiled with `BENCH_CPU_PROF=<dir>`: procs/spawn.ts). */
async function setup(): Promise<void> {
  const certs = certificateDir();
  const started: BenchProcess[] = [];
  const start = async (program: string, args: readonly string[]) => {
    const { process: child, ready } = await BenchProcess.start(program, args);
    started.push(child);
    return { child, ready };
  };
  try {
    const [hub, server] = await Promise.all([start('hub', []), start('byte-server', [certs])]);
    const [bob, relay] = await Promise.all([start('bob', hub.ready), start('relay', server.ready)]);
    const [alice, client] = await Promise.all([
      start('alice', [hub.ready[0]!, bob.ready[0]!]),
      start('byte-client', [...relay.ready, certs]),
    ]);
    processes = {
      hub: hub.child,
      bob: bob.child,
      alice: alice.child,
      server: server.child,
      relay: relay.child,
      client: client.child,
      certs,
    };
  } catch (error) {
    await Promise.all(started.map((child) => child.stop()));
    rmSync(certs, { recursive: true, force: true });
    throw error;
  }
}

async function teardown(): Promise<void> {
  cpu.print();
  if (processes === undefined) return;
  const { certs, ...children } = processes;
  processes = undefined;
  // Alice and the client first, so that nobody sees its peer vanish mid-round.
  await Promise.all([children.alice.stop(), children.client.stop()]);
  await Promise.all([children.bob.stop(), children.relay.stop()]);
  await Promise.all([children.hub.stop(), children.server.stop()]);
  rmSync(certs, { recursive: true, force: true });
}

type Driver = 'alice' | 'client';

/**
 * Measured rounds per variant: more than the default, as three processes on two shared cores spread widely
 * (30-140% with 7 rounds of a fixed count, 0.2-0.7 s each). With 15 rounds sized to ~400 ms, a suite of
 * 2-3 minutes on a quiet machine (estimated from the rates issue 10 quotes).
 */
const ROUNDS = 15;

const cpu = new CpuPerOp(
  'hub suite: CPU time per operation, median over the rounds (us; driver, relay/hub, server/Bob)',
);

/** A driver's command line for a round of `n` operations (`n` is `N` in the CPU table's label). */
type Command = (n: number | 'N') => string;

/**
 * A round: `command` for `ops` times the round's scale to Alice or to the baseline client, which times it,
 * with the CPU time that each of the three processes spent per operation recorded (see `CpuPerOp`): a round
 * trip or a message crosses all three in turn, so on a 2-core machine the wall clock follows their sum.
 * Should one of Alice's fail (a bulk round's count short), its error says what the hub and Bob counted as
 * dropped (see `countedDrops`).
 */
function round(driver: Driver, command: Command, ops: number): Round {
  const trio = (): CpuMeter[] => {
    const p = running();
    return (driver === 'alice' ? [p.alice, p.hub, p.bob] : [p.client, p.relay, p.server]).map((c) =>
      childMeter(c),
    );
  };
  const figure: Round = (run) => running()[driver].figure(command(ops * run.scale));
  return cpu.metered(command('N'), trio, ops, driver === 'alice' ? reportingDrops(figure, running) : figure);
}

const coldHandshake = round('alice', (n) => `handshake ${n} cold`, HANDSHAKE_N);

/** Alice's handshakes with every identity binding verified, at both ends (see bench/binding-cache.ts). */
const coldHandshakes: Round = async (run) => {
  const { bob } = running();
  await bob.command('cache off');
  try {
    return await coldHandshake(run);
  } finally {
    await bob.command('cache on');
  }
};

export const suite: Suite = {
  name: 'hub',
  setup,
  teardown,
  benchmarks: [
    {
      name: 'hub.channel_rtt_64',
      unit: 'round trips/s',
      candidate: round('alice', (n) => `rtt ${n}`, RTT_N),
      baseline: { name: 'tcp_relay', round: round('client', (n) => `rtt raw ${n}`, RTT_N) },
      comparisons: [{ name: 'tls_relay', round: round('client', (n) => `rtt tls ${n}`, RTT_N) }],
      goals: { ratioAtLeast: 0.75 },
      rounds: ROUNDS,
      scalable: true,
    },
    {
      name: 'hub.channel_bulk_64k',
      unit: 'MB/s',
      candidate: round('alice', (n) => `bulk ${n}`, BULK_N),
      baseline: { name: 'tcp_relay', round: round('client', (n) => `bulk raw ${n}`, BULK_N) },
      comparisons: [{ name: 'tls_relay', round: round('client', (n) => `bulk tls ${n}`, BULK_N) }],
      goals: { ratioAtLeast: 0.6 },
      rounds: ROUNDS,
      scalable: true,
    },
    {
      // A reliable channel (acknowledged, retransmitted, deduplicated) beside the default one, same run.
      name: 'hub.reliable_rtt_64',
      unit: 'round trips/s',
      candidate: round('alice', (n) => `rtt ${n} reliable`, RTT_N),
      baseline: { name: 'default_channel', round: round('alice', (n) => `rtt ${n}`, RTT_N) },
      goals: { ratioAtLeast: 0.8 },
      rounds: ROUNDS,
      scalable: true,
    },
    {
      name: 'hub.reliable_bulk_64k',
      unit: 'MB/s',
      candidate: round('alice', (n) => `bulk ${n} reliable`, BULK_N),
      baseline: { name: 'default_channel', round: round('alice', (n) => `bulk ${n}`, BULK_N) },
      goals: { ratioAtLeast: 0.8 },
      rounds: ROUNDS,
      scalable: true,
    },
    {
      name: 'hub.handshake',
      unit: 'handshakes/s',
      candidate: round('alice', (n) => `handshake ${n}`, HANDSHAKE_N),
      baseline: { name: 'tls_relay', round: round('client', (n) => `handshake mutual ${n}`, HANDSHAKE_N) },
      comparisons: [
        {
          name: 'tls_relay_server_auth',
          round: round('client', (n) => `handshake server ${n}`, HANDSHAKE_N),
        },
        { name: 'cold_cache', round: coldHandshakes },
      ],
      goals: { ratioAtLeast: 1.2 },
      rounds: ROUNDS,
      scalable: true,
    },
  ],
};
