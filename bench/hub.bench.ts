/**
 * A secure channel through a hub, every party a process of its own on 127.0.0.1 (bench/procs/): Alice opens
 * a channel through the hub to Bob's listener, behind Bob's forwarder. Beside it, in the same run, the same
 * exchanges between a plain client and server (byte-client.ts, byte-server.ts) through a relay process that
 * only pipes bytes (relay.ts): over raw TCP, the floor for any hub, and over TLS 1.3, the usual way to
 * encrypt them. Processes wait on sockets, so rounds are timed on the wall clock, by the process that
 * drives them (Alice or the client). See bench/README.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reportingDrops } from './counted-drops';
import { CpuPerOp, childMeter, type CpuMeter } from './cpu-per-op';
import { type Round, type Suite } from './harness';
import { selfSignedCert } from './procs/self-signed-cert';
import { BenchProcess } from './procs/spawn';

/** Round trips per round, every variant: ~0.7 s through the hub. */
const RTT_N = 2_000;
/** 64 KiB messages per round (33 MB), every variant: ~0.7 s through the hub. */
const BULK_N = 500;
/** New channels (or TLS connections) per round, every variant: ~0.3 s through the hub. */
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
  const certs = mkdtempSync(join(tmpdir(), 'sealroute-bench-'));
  for (const side of ['server', 'client']) {
    const { key, cert } = selfSignedCert(side);
    writeFileSync(join(certs, `${side}.key`), key, { mode: 0o600 });
    writeFileSync(join(certs, `${side}.crt`), cert);
  }
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
 * Rounds per variant: more than the default, as three processes on two shared cores spread widely (30-140%
 * with 7); with 11 the medians settle.
 */
const ROUNDS = 11;

const cpu = new CpuPerOp(
  'hub suite: CPU time per operation, median over the rounds (us; driver, relay/hub, server/Bob)',
);

/**
 * A round: `command` to Alice or to the baseline client, which times it, with the CPU time that each of the
 * three processes spent per operation recorded (see `CpuPerOp`): a round trip or a message crosses all three
 * in turn, so on a 2-core machine the wall clock follows their sum. Should one of Alice's fail (a bulk
 * round's count short), its error says what the hub and Bob counted as dropped (see `countedDrops`).
 */
function round(driver: Driver, command: string, ops: number): Round {
  const trio = (): CpuMeter[] => {
    const p = running();
    return (driver === 'alice' ? [p.alice, p.hub, p.bob] : [p.client, p.relay, p.server]).map((c) =>
      childMeter(c),
    );
  };
  const figure: Round = () => running()[driver].figure(command);
  return cpu.metered(command, trio, ops, driver === 'alice' ? reportingDrops(figure, running) : figure);
}

/** Alice's handshakes with every identity binding verified, at both ends (see bench/binding-cache.ts). */
async function coldHandshakes(): Promise<number> {
  const { bob } = running();
  await bob.command('cache off');
  try {
    return await round('alice', `handshake ${HANDSHAKE_N} cold`, HANDSHAKE_N)();
  } finally {
    await bob.command('cache on');
  }
}

export const suite: Suite = {
  name: 'hub',
  setup,
  teardown,
  benchmarks: [
    {
      name: 'hub.channel_rtt_64',
      unit: 'round trips/s',
      candidate: round('alice', `rtt ${RTT_N}`, RTT_N),
      baseline: { name: 'tcp_relay', round: round('client', `rtt raw ${RTT_N}`, RTT_N) },
      comparisons: [{ name: 'tls_relay', round: round('client', `rtt tls ${RTT_N}`, RTT_N) }],
      goals: { ratioAtLeast: 0.75 },
      rounds: ROUNDS,
    },
    {
      name: 'hub.channel_bulk_64k',
      unit: 'MB/s',
      candidate: round('alice', `bulk ${BULK_N}`, BULK_N),
      baseline: { name: 'tcp_relay', round: round('client', `bulk raw ${BULK_N}`, BULK_N) },
      comparisons: [{ name: 'tls_relay', round: round('client', `bulk tls ${BULK_N}`, BULK_N) }],
      goals: { ratioAtLeast: 0.6 },
      rounds: ROUNDS,
    },
    {
      // A reliable channel (acknowledged, retransmitted, deduplicated) beside the default one, same run.
      name: 'hub.reliable_rtt_64',
      unit: 'round trips/s',
      candidate: round('alice', `rtt ${RTT_N} reliable`, RTT_N),
      baseline: { name: 'default_channel', round: round('alice', `rtt ${RTT_N}`, RTT_N) },
      goals: { ratioAtLeast: 0.8 },
      rounds: ROUNDS,
    },
    {
      name: 'hub.reliable_bulk_64k',
      unit: 'MB/s',
      candidate: round('alice', `bulk ${BULK_N} reliable`, BULK_N),
      baseline: { name: 'default_channel', round: round('alice', `bulk ${BULK_N}`, BULK_N) },
      goals: { ratioAtLeast: 0.8 },
      rounds: ROUNDS,
    },
    {
      name: 'hub.handshake',
      unit: 'handshakes/s',
      candidate: round('alice', `handshake ${HANDSHAKE_N}`, HANDSHAKE_N),
      baseline: { name: 'tls_relay', round: round('client', `handshake mutual ${HANDSHAKE_N}`, HANDSHAKE_N) },
      comparisons: [
        {
          name: 'tls_relay_server_auth',
          round: round('client', `handshake server ${HANDSHAKE_N}`, HANDSHAKE_N),
        },
        { name: 'cold_cache', round: coldHandshakes },
      ],
      goals: { ratioAtLeast: 1.2 },
      rounds: ROUNDS,
    },
  ],
};
