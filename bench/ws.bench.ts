/**
 * Alice over WebSocket beside Alice over TCP, in the same run, through the same hub (bench/procs/hub.ts with
 * a WebSocket listener) to the same Bob (over TCP): the WebSocket transport's cost is the ratio. Every party
 * is a process of its own on 127.0.0.1; rounds are timed on the wall clock by the Alice that drives them.
 */
import { reportingDrops } from './counted-drops';
import type { Round, Suite } from './harness';
import { BenchProcess } from './procs/spawn';

/** Round trips per round: ~0.7 s through the hub. */
const RTT_N = 2_000;
/** 64 KiB messages per round (33 MB): ~0.7 s through the hub. */
const BULK_N = 500;

interface Processes {
  readonly hub: BenchProcess;
  readonly bob: BenchProcess;
  readonly overTcp: BenchProcess;
  readonly overWs: BenchProcess;
}

let processes: Processes | undefined;

async function setup(): Promise<void> {
  const started: BenchProcess[] = [];
  const start = async (program: string, args: readonly string[]) => {
    const { process: child, ready } = await BenchProcess.start(program, args);
    started.push(child);
    return { child, ready };
  };
  try {
    const hub = await start('hub', ['ws']);
    const [tcpAt, wsAt] = hub.ready as [string, string];
    const bob = await start('bob', [tcpAt]);
    const [overTcp, overWs] = await Promise.all([
      start('alice', [tcpAt, bob.ready[0]!]),
      start('alice', [wsAt, bob.ready[0]!]),
    ]);
    processes = { hub: hub.child, bob: bob.child, overTcp: overTcp.child, overWs: overWs.child };
  } catch (error) {
    await Promise.all(started.map((child) => child.stop()));
    throw error;
  }
}

async function teardown(): Promise<void> {
  if (processes === undefined) return;
  const { hub, bob, overTcp, overWs } = processes;
  processes = undefined;
  await Promise.all([overTcp.stop(), overWs.stop()]);
  await bob.stop();
  await hub.stop();
}

/** A round of Alice's; should it fail, its error says what the hub and Bob counted (see `countedDrops`). */
function round(alice: 'overTcp' | 'overWs', command: string): Round {
  const running = () => {
    if (processes === undefined) throw new Error('the ws suite was not set up');
    return processes;
  };
  return reportingDrops(() => running()[alice].figure(command), running);
}

export const suite: Suite = {
  name: 'ws',
  setup,
  teardown,
  benchmarks: [
    {
      name: 'ws.channel_rtt_64',
      unit: 'round trips/s',
      candidate: round('overWs', `rtt ${RTT_N}`),
      baseline: { name: 'tcp', round: round('overTcp', `rtt ${RTT_N}`) },
      goals: { ratioAtLeast: 0.7 },
    },
    {
      name: 'ws.channel_bulk_64k',
      unit: 'MB/s',
      candidate: round('overWs', `bulk ${BULK_N}`),
      baseline: { name: 'tcp', round: round('overTcp', `bulk ${BULK_N}`) },
      goals: { ratioAtLeast: 0.7 },
    },
  ],
};
