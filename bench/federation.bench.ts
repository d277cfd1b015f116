/**
 * Hub federation on NATS (docs/federation.md), in one process on 127.0.0.1 beside a nats-server the suite
 * starts (`-p -1`, a temporary directory): hubs a, b and c, Bob registered at c, Alice connected to a (the
 * federation's path: Alice -> a -> NATS -> c -> Bob) and to c (the same-hub path, the baseline, measured in
 * the same process and rounds). Every figure is on the wall clock. See bench/README.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Identity,
  InMemoryVault,
  NodeRuntime,
  TCP,
  TcpTransport,
  TrustAnyIdentity,
  TrustIdentifier,
  connectNats,
  createSecureChannel,
  createSecureChannelListener,
  route,
  silentLogger,
  startFederatedHub,
  FailoverForwarder,
  type Context,
  type FederatedHub,
  type FederationBus,
  type SecureChannel,
} from '../src';
import { nameClaimStatement } from '../src/services/forwarding-messages';
import { CpuPerOp, cpuMicrosOfPid, thisProcess, type CpuMeter } from './cpu-per-op';
import { type Round, type Suite, type Variant } from './harness';
import { BenchProcess } from './procs/spawn';
import { latencies, percentile } from './procs/latency';

/**
 * Operations per round at scale 1, every variant: the harness scales each variant's count until its round
 * lasts ~400 ms (`RoundRun.scale`).
 */
const RTT_N = 300;
const BULK_N = 100;
const REGISTRATIONS_N = 600;
/**
 * The floor's message: about what hub a publishes for a 64-byte request (the envelope's 68-byte header, the
 * routes, and the channel's encrypted frame).
 */
const FLOOR_BYTES = 240;

type NatsConnection = Awaited<ReturnType<typeof connect>>;

/** Bare NATS round trips: `pinger` publishes on `<subject>.ping`, an echo publishes it back on `.pong`. */
interface Floor {
  readonly pinger: NatsConnection;
  /** The echo in this process, on a connection of its own (as hub c is to hub a). */
  readonly echo: NatsConnection;
  /** The echo in a process of its own (bench/procs/nats-echo.ts). */
  readonly echoProcess: BenchProcess;
  /** Resolves the round trip waiting for its pong. */
  waiting: (() => void) | undefined;
}

interface Hub {
  readonly node: NodeRuntime;
  readonly address: string;
  readonly hub: FederatedHub;
}

interface Setup {
  readonly nats: ChildProcess;
  readonly dir: string;
  readonly url: string;
  readonly hubs: Hub[];
  readonly nodes: NodeRuntime[];
  readonly alice: Context;
  readonly viaFederation: SecureChannel;
  readonly viaSameHub: SecureChannel;
  readonly bus: FederationBus;
  readonly owner: Identity;
  readonly floor: Floor;
  /** Bob's channel ends (for what they report missing). */
  readonly bobChannels: readonly SecureChannel[];
}

let running: Setup | undefined;
let names = 0;

/** The CPU time (µs) the suite's nats-server has used so far, summed over its threads (0 if unknown). */
export function natsCpuMicros(): number {
  return cpuMicrosOfPid(running?.nats.pid);
}

/** Operations (round trips, messages, claims) in one round of the benchmark `name`, at scale 1. */
export function operationsPerRound(name: string): number {
  if (name.startsWith('federation.rtt_64')) return RTT_N;
  if (name === 'federation.bulk_64k') return BULK_N;
  return REGISTRATIONS_N;
}

function state(): Setup {
  if (running === undefined) throw new Error('the federation suite was not set up');
  return running;
}

export async function startNats(): Promise<{ nats: ChildProcess; dir: string; url: string }> {
  const binary = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find(
    existsSync,
  );
  if (binary === undefined)
    throw new Error('the federation suite needs nats-server (apt-get install nats-server)');
  const dir = mkdtempSync(join(tmpdir(), 'sealroute-bench-nats-'));
  writeFileSync(join(dir, 'js.conf'), 'jetstream { max_memory_store: 64MB, max_file_store: 512MB }\n');
  const args = ['-c', join(dir, 'js.conf'), '-a', '127.0.0.1', '-p', '-1', '-js', '-sd', join(dir, 'js')];
  const nats = spawn(binary, [...args, '--ports_file_dir', dir], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const file = readdirSync(dir).find((f) => f.endsWith('.ports'));
    if (file !== undefined) {
      try {
        const url = (JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nats: string[] }).nats[0]!;
        return { nats, dir, url };
      } catch {
        // not complete yet
      }
    }
    if (Date.now() > deadline) throw new Error('nats-server did not start');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function setup(): Promise<void> {
  const { nats, dir, url } = await startNats();
  const nodes: NodeRuntime[] = [];
  const node = (): NodeRuntime => {
    const n = new NodeRuntime({ logger: silentLogger });
    nodes.push(n);
    return n;
  };
  const hubs: Hub[] = [];
  for (const name of ['a', 'b', 'c']) {
    const n = node();
    const tcp = await TcpTransport.create(n);
    const address = await tcp.listen('127.0.0.1:0');
    const ctx = n.context(undefined, { acceptsTransportMessages: true });
    const hub = await startFederatedHub(ctx, {
      nats: { servers: [url] },
      hub: name,
      maxForwarders: 100_000,
      maxBoundNames: 100_000,
      maxNamesPerIdentity: 100_000,
    });
    hubs.push({ node: n, address, hub });
  }
  const bobNode = node();
  await TcpTransport.create(bobNode);
  const bob = bobNode.context(undefined, { acceptsTransportMessages: true });
  const bobIdentity = await Identity.create(await InMemoryVault.create());
  const listener = await createSecureChannelListener(bob, bobIdentity, 'listener', {
    trustPolicy: TrustAnyIdentity,
  });
  const bobChannels: SecureChannel[] = [];
  listener.on('channelOpened', (channel) => bobChannels.push(channel));
  await bobNode.startWorker('echoer', { handleMessage: (ctx, m) => ctx.send(m.returnRoute, m.body) });
  await bobNode.startWorker('sink', { handleMessage: () => undefined });
  await FailoverForwarder.create(bob, [hubs[2]!.address], 'listener', {
    name: 'bob',
    identity: bobIdentity,
    deliverTo: ['listener'],
  });
  const aliceNode = node();
  await TcpTransport.create(aliceNode);
  const alice = aliceNode.context(undefined, { acceptsTransportMessages: true });
  const aliceIdentity = await Identity.create(await InMemoryVault.create());
  while (hubs[0]!.hub.federation.whereIs('bob') !== 'c' || hubs[0]!.hub.federation.stats().peers < 2)
    await new Promise((resolve) => setTimeout(resolve, 20));
  const open = (hub: Hub) =>
    createSecureChannel(alice, aliceIdentity, route([TCP, hub.address], 'fwd.n.bob', 'listener'), {
      trustPolicy: TrustIdentifier(bobIdentity.identifier),
    });
  const viaFederation = await open(hubs[0]!);
  const viaSameHub = await open(hubs[2]!);
  const bus = await connectNats({ servers: [url] });
  const floor = await startFloor(url);
  running = {
    nats,
    dir,
    url,
    hubs,
    nodes,
    alice,
    viaFederation,
    viaSameHub,
    bus,
    owner: await Identity.create(await InMemoryVault.create()),
    floor,
    bobChannels,
  };
}

async function startFloor(url: string): Promise<Floor> {
  const pinger = await connect({ servers: [url] });
  const echo = await connect({ servers: [url] });
  echo.subscribe('floor.local.ping', {
    callback: (err: Error | null, msg: { data: Uint8Array }) => {
      if (err === null) echo.publish('floor.local.pong', msg.data);
    },
  });
  const { process: echoProcess } = await BenchProcess.start('nats-echo', [url, 'floor.process'], {
    tree: ['bench/procs'],
  });
  const floor: Floor = { pinger, echo, echoProcess, waiting: undefined };
  for (const subject of ['floor.local.pong', 'floor.process.pong']) {
    pinger.subscribe(subject, {
      callback: () => {
        const waiting = floor.waiting;
        floor.waiting = undefined;
        waiting?.();
      },
    });
  }
  await Promise.all([pinger.flush(), echo.flush()]);
  return floor;
}

async function teardown(): Promise<void> {
  cpu.print();
  if (running === undefined) return;
  const { nats, dir, hubs, nodes, bus, floor } = running;
  running = undefined;
  await floor.echoProcess.stop().catch(() => undefined);
  await Promise.all([floor.pinger.close(), floor.echo.close()]).catch(() => undefined);
  for (const hub of hubs) await hub.hub.stop().catch(() => undefined);
  await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
  await bus.close().catch(() => undefined);
  nats.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}

/** Round trip latencies (µs) of `n` sequential 64-byte requests through `channel`. */
function channelLatencies(channel: SecureChannel, n: number): Promise<number[]> {
  const { alice } = state();
  const body = new Uint8Array(64);
  const options = { timeout: 10_000, acceptsTransportReplies: false };
  return latencies(n, async () => void (await alice.request(route(channel, 'echoer'), body, options)));
}

/** Round trip latencies (µs) of `n` bare NATS publishes to the echo on `<subject>.ping` and back. */
async function floorLatencies(subject: string, n: number): Promise<number[]> {
  const { floor } = state();
  const body = new Uint8Array(FLOOR_BYTES);
  return latencies(n, async () => {
    const pong = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no pong from the NATS echo in 10 s')), 10_000);
      floor.waiting = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    floor.pinger.publish(`${subject}.ping`, body);
    await pong;
  });
}

/** Where a round's round trips go: `latencies` measures `n` of them, `label` names them in the output. */
interface Path {
  readonly label: string;
  readonly latencies: (n: number) => Promise<number[]>;
}

const rate = (path: Path): Round =>
  metered(`rtt_64 ${path.label}`, RTT_N, async ({ scale }) => {
    const start = process.hrtime.bigint();
    await path.latencies(RTT_N * scale);
    return (RTT_N * scale) / (Number(process.hrtime.bigint() - start) / 1e9);
  });

/** A latency percentile, as its inverse (per second) so that higher is better like every other figure. */
const latency =
  (path: Path, p: number): Round =>
  async ({ scale }) => {
    const us = percentile(await path.latencies(RTT_N * scale), p);
    console.error(`  p${p} ${path.label}: ${us.toFixed(0)} µs`);
    return 1e6 / us;
  };

const bulk =
  (pick: () => SecureChannel): Round =>
  async ({ scale }) => {
    const { alice } = state();
    const channel = pick();
    const body = new Uint8Array(64 * 1024);
    const n = BULK_N * scale;
    const start = process.hrtime.bigint();
    try {
      for (let i = 0; i < n; i++) await alice.send(route(channel, 'sink'), body);
      // The channel delivers in order: the echo of a last request follows every message before it.
      await alice.request(route(channel, 'echoer'), new Uint8Array(1), { timeout: 30_000 });
    } catch (error) {
      // A frame lost on the way (the request's, or its echo's) times the round out: say what was counted.
      throw new Error(`${(error as Error).message}\n${countedLosses()}`, { cause: error });
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return (n * 64 * 1024) / 1e6 / seconds;
  };

/** What the hubs and Bob counted as lost or dropped so far, in words: for a round that failed. */
function countedLosses(): string {
  const { hubs, bobChannels } = state();
  const perHub = hubs.map(({ node, hub }, i) => {
    const { lost, lostTotal, slowConsumers, disconnects } = hub.federation.stats();
    const reasons = Object.entries(lost).filter(([, n]) => n > 0);
    const why = reasons.length === 0 ? '' : ` (${reasons.map(([r, n]) => `${n} ${r}`).join(', ')})`;
    return (
      `hub ${'abc'[i]}: ${lostTotal} lost${why}, ${node.deadLetters.count} dead letters, ` +
      `${slowConsumers} slow-consumer notices, ${disconnects} NATS disconnects`
    );
  });
  const missing = bobChannels.reduce((n, channel) => n + channel.stats.missing.frames, 0);
  return `counted since the suite started: ${perHub.join('; ')}; Bob's channels ${missing} frames missing`;
}

/** `REGISTRATIONS_N` times the scale bound names claimed at once, spread over the three hubs. */
const registrations: Round = async ({ scale }) => {
  const { hubs, owner } = state();
  const n = REGISTRATIONS_N * scale;
  const claims = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const hub = hubs[i % hubs.length]!.hub;
      const name = `bench-${names++}`;
      const challenge = randomBytes(16).toString('hex');
      const sig = await owner.sign(nameClaimStatement(hub.service.hub, challenge, name, owner.publicKey));
      return { hub, name, challenge, sig };
    }),
  );
  const start = process.hrtime.bigint();
  await Promise.all(
    claims.map(({ hub, name, challenge, sig }) =>
      hub.federation.claim({
        name,
        owner: owner.identifier,
        instance: hub.service.hub,
        challenge,
        key: owner.publicKey,
        sig,
      }),
    ),
  );
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
};

/** The floor: as many creates of the same bucket, 64 at a time (as a hub does), from one connection. */
const kvCreates: Round = async ({ scale }) => {
  const { bus } = state();
  const store = await bus.names('sealroute-names', { replicas: 1, maxBytes: 64 << 20, maxValueSize: 1024 });
  const value = new Uint8Array(400);
  const n = REGISTRATIONS_N * scale;
  let next = 0;
  const base = names;
  names += n;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < n) await store.create(`raw-${base + next++}`, value);
    }),
  );
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
};

/**
 * CPU per operation of this process (every hub, Alice and Bob: the rounds' parties take turns on its one
 * thread) and of nats-server; `teardown` prints the medians.
 */
const cpu = new CpuPerOp('federation suite: CPU time per operation, median over the rounds (us)');
const meters: readonly CpuMeter[] = [thisProcess(), { name: 'nats-server', cpuMicros: natsCpuMicros }];

/** `round`, of `ops` operations, with the CPU time it cost this process and nats-server recorded under `key`. */
function metered(key: string, ops: number, round: Round): Round {
  return cpu.metered(key, () => meters, ops, round);
}

const federation = (): SecureChannel => state().viaFederation;
const sameHub = (): SecureChannel => state().viaSameHub;

const paths = {
  federation: { label: 'federation', latencies: (n) => channelLatencies(federation(), n) },
  sameHub: { label: 'same hub', latencies: (n) => channelLatencies(sameHub(), n) },
  floor: { label: 'nats floor', latencies: (n) => floorLatencies('floor.local', n) },
  floorProcess: { label: 'nats floor (2 processes)', latencies: (n) => floorLatencies('floor.process', n) },
} satisfies Record<string, Path>;

/**
 * The floor of what NATS adds: round trips of a bare message (`FLOOR_BYTES`) between two NATS clients,
 * in this process (as hubs a and c are here) and with the echo in a process of its own. A federated round
 * trip is a same-hub one plus (at least) one of these, plus hub a's work.
 */
const floors = (p?: number): Variant[] => [
  { name: 'nats_floor', round: p === undefined ? rate(paths.floor) : latency(paths.floor, p) },
  {
    name: 'nats_floor_2proc',
    round: p === undefined ? rate(paths.floorProcess) : latency(paths.floorProcess, p),
  },
];

export const suite: Suite = {
  name: 'federation',
  setup,
  teardown,
  benchmarks: [
    {
      name: 'federation.rtt_64',
      unit: 'round trips/s',
      scalable: true,
      candidate: rate(paths.federation),
      baseline: { name: 'same_hub', round: rate(paths.sameHub) },
      comparisons: floors(),
      goals: { ratioAtLeast: 0.5 },
    },
    {
      name: 'federation.rtt_64_p50',
      unit: '1/p50 (per s)',
      scalable: true,
      candidate: latency(paths.federation, 50),
      baseline: { name: 'same_hub', round: latency(paths.sameHub, 50) },
      comparisons: floors(50),
      goals: { ratioAtLeast: 0.5 },
    },
    {
      name: 'federation.rtt_64_p99',
      unit: '1/p99 (per s)',
      scalable: true,
      candidate: latency(paths.federation, 99),
      baseline: { name: 'same_hub', round: latency(paths.sameHub, 99) },
    },
    {
      name: 'federation.bulk_64k',
      unit: 'MB/s',
      scalable: true,
      candidate: metered('bulk_64k federation', BULK_N, bulk(federation)),
      baseline: { name: 'same_hub', round: metered('bulk_64k same hub', BULK_N, bulk(sameHub)) },
      goals: { ratioAtLeast: 0.5 },
    },
    {
      name: 'federation.registrations',
      unit: 'registrations/s',
      scalable: true,
      candidate: registrations,
      baseline: { name: 'kv_create', round: kvCreates },
      goals: { atLeast: 2_000 },
    },
  ],
};
