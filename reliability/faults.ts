/**
 * Fault injection: each fault is run against real processes (hub, Bob, Alice) on 127.0.0.1, and its
 * outcome printed and checked.
 *
 *   npm run faults                               # every fault
 *   npm run faults -- --only hub-kill --verbose  # one (hub-kill, bob-kill, stall, cycles, reliable-hub-kill,
 *                                                # reliable-partition), with child logs
 *   npm run faults -- --cycles 2000
 *
 * hub-kill  kill -9 the hub in the middle of traffic, start another on the same port: Bob registers again,
 *           Alice's old channel fails with a typed error, a new channel works; numbered requests reconcile.
 * bob-kill  kill -9 Bob, who holds a thousand forwarders: the hub drops them all and its heap comes back.
 * stall     SIGSTOP the hub (it stops reading) under a flood from Alice: her memory stops growing at its
 *           bound, the connection is closed after her drain timeout, what was queued is counted, and after
 *           SIGCONT everything recovers; the one-way flood reconciles exactly (each message delivered, or
 *           counted once as a dead letter on Alice, the hub or Bob).
 * cycles    10,000 connect / register / unregister / disconnect cycles: no connection, handle, worker,
 *           forwarder or listener is left behind, at the hub or the client.
 * reliable-hub-kill, reliable-partition
 *           a reliable channel under 100,000 one-way messages at full speed, through a hub killed with
 *           kill -9 and restarted, and across a silent partition: 0 lost, 0 duplicated, in order, the same
 *           channel (reliability/lib/reliable-faults.ts; `npm run faults:reliable` runs them alone).
 */
import { parseArgs } from 'node:util';
import { Child, runProgram, stopAll } from './lib/child';
import { handleChanges, lastingHandles, mib } from './lib/measure';
import type { NodeSample } from './lib/node-sample';
import { SeqSet, type SinkCounts } from './lib/numbered';
import type { DropCounts } from './lib/drop-tally';
import {
  describeOneWay,
  describeReconciliation,
  oneWayReconciled,
  reconcile,
  reconcileOneWay,
  reconciled,
} from './lib/reconcile';
import { reliableHubKill, reliablePartition } from './lib/reliable-faults';
import { Checks, count, eventually, seconds, sleep } from './lib/report';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    cycles: { type: 'string', default: '10000' },
    'time-limit-s': { type: 'string', default: '900' },
    verbose: { type: 'boolean', default: false },
  },
});
const echoStderr = args.verbose;

type Sample = NodeSample & {
  connections: number;
  forwarders?: number;
  /** Addresses of dead clients the hub keeps for their reattach grace period. */
  reserved?: number;
  registered?: boolean;
  reRegistrations?: number;
  closedConnections?: string[];
};
interface Probe {
  ok: boolean;
  error?: string;
  ms: number;
}
interface TrafficStatus {
  sent: number;
  acked: number;
  errored: number;
  inFlight: number;
  lastError?: string;
}
interface FloodStatus {
  first: number;
  sent: number;
  errored: [number, string][];
  sinceProgressMs: number;
  closed: string | null;
  failed: string | null;
  running: boolean;
}

async function startHub(
  listen = '127.0.0.1:0',
  extra: string[] = [],
): Promise<{ hub: Child; address: string }> {
  const { child, ready } = await Child.start<{ address: string }>(
    'hub',
    'hub',
    ['--listen', listen, ...extra],
    {
      echoStderr,
    },
  );
  return { hub: child, address: ready.address };
}

/** Bob, heartbeating every second so that he notices a lost hub quickly; a named forwarder (`fwd.n.bob`) by default. */
async function startBob(
  hub: string,
  extra: string[] = ['--name', 'bob'],
): Promise<{ bob: Child; forwardingAddress: string }> {
  const { child, ready } = await Child.start<{ forwardingAddress: string }>(
    'bob',
    'bob',
    ['--hub', hub, '--heartbeat-ms', '1000', '--reconnect-max-ms', '1000', ...extra],
    { echoStderr },
  );
  return { bob: child, forwardingAddress: ready.forwardingAddress };
}

async function startAlice(hub: string, to: string, extra: string[] = []): Promise<Child> {
  const { child } = await Child.start('alice', 'alice', ['--hub', hub, '--to', to, ...extra], { echoStderr });
  return child;
}

/** Stops the traffic and reconciles it with Bob's sink. */
async function reconcileTraffic(alice: Child, bob: Child, checks: Checks): Promise<void> {
  const outcome = await alice.call<{ sent: number; acked: string; errored: [number, string][] }>(
    'trafficStop',
    [],
    30_000,
  );
  const seen = await bob.call<SinkCounts & { bitmap: string }>('seen');
  const result = reconcile(
    { sent: outcome.sent, acked: SeqSet.fromBase64(outcome.acked), errored: new Map(outcome.errored) },
    SeqSet.fromBase64(seen.bitmap),
    seen,
  );
  console.log(`  reconciliation: ${describeReconciliation(result)}`);
  checks.check(
    'every message delivered once and intact, or its loss seen by the sender',
    reconciled(result),
    `${result.unaccounted} unaccounted, ${result.duplicates} duplicated, ${result.corrupted} corrupted of ${count(result.sent)}`,
  );
}

async function hubKill(checks: Checks): Promise<void> {
  console.log('\n== hub-kill: kill -9 the hub in the middle of traffic, restart it on the same port');
  const first = await startHub();
  const { bob, forwardingAddress } = await startBob(first.address);
  const alice = await startAlice(first.address, forwardingAddress);
  await alice.call('open');
  await alice.call('trafficStart', [256, 16, 2_000]);
  await sleep(2_000);
  const before = await alice.call<TrafficStatus>('trafficStatus');
  console.log(`  traffic: ${count(before.acked)} requests acknowledged in 2 s, ${before.errored} failed`);

  await first.hub.kill();
  const killedAt = Date.now();
  console.log(`  hub killed (SIGKILL)`);
  await sleep(1_000);
  const oldChannel = await alice.call<Probe>('probe', [2_000]);
  const during = await alice.call<TrafficStatus>('trafficStatus');
  console.log(
    `  the old channel, probed: ${oldChannel.ok ? 'answered (!)' : `${oldChannel.error} after ${oldChannel.ms} ms`}; ` +
      `traffic errors so far: ${during.errored} (last: ${during.lastError})`,
  );

  const second = await startHub(first.address);
  console.log(`  new hub on ${second.address}`);
  const back = await eventually(
    async () =>
      (await bob.call<Sample>('sample')).registered === true &&
      (await second.hub.call<Sample>('sample')).forwarders === 1,
    20_000,
  );
  const reRegisteredMs = Date.now() - killedAt;
  const reopened = await alice.call<{ ms: number; attempts: number; errors: string[] }>(
    'open',
    [20_000],
    30_000,
  );
  const probe = await alice.call<Probe>('probe', [2_000]);
  console.log(
    `  Bob registered again ${seconds(reRegisteredMs)} after the kill; Alice's new channel opened in ` +
      `${reopened.ms} ms (${reopened.attempts} attempts); probe ${probe.ok ? 'ok' : probe.error}`,
  );
  await sleep(2_000);
  const after = await alice.call<TrafficStatus>('trafficStatus');
  const aliceSample = await alice.call<Sample>('sample');
  console.log(
    `  traffic after recovery: ${count(after.acked - during.acked)} more acknowledged; Alice's dead letters ${JSON.stringify(aliceSample.deadLetters)}, ` +
      `closed connections ${JSON.stringify(aliceSample.closedConnections)}`,
  );
  checks.check('Bob registers again with the new hub', back, `in ${seconds(reRegisteredMs)}`);
  checks.check(
    "Alice's old channel reports a typed error to its sender",
    !oldChannel.ok && oldChannel.error !== undefined && oldChannel.error !== 'Error',
    oldChannel.error ?? 'no error',
  );
  checks.check(
    'a new channel works',
    probe.ok,
    probe.ok ? `opened in ${reopened.ms} ms, echo in ${probe.ms} ms` : String(probe.error),
  );
  checks.check(
    'traffic resumes on it',
    after.acked > during.acked,
    `${count(after.acked - during.acked)} acknowledged after recovery`,
  );
  await reconcileTraffic(alice, bob, checks);
  await stopAll();
}

async function bobKill(checks: Checks): Promise<void> {
  console.log('\n== bob-kill: kill -9 Bob, who holds 1,001 forwarders at the hub');
  // A dead Bob's random addresses stay reserved for his reattach grace period (their memory too, and they
  // count against his source): a short one, so that both are seen gone within the run.
  const { hub, address } = await startHub('127.0.0.1:0', [
    '--max-forwarders-per-connection',
    '2000',
    '--max-forwarders-per-source',
    '2000',
    '--reattach-grace-ms',
    '1000',
  ]);
  const gone = async (): Promise<boolean> => {
    const sample = await hub.call<Sample>('sample');
    return sample.forwarders === 0 && sample.reserved === 0;
  };
  // A first Bob, killed at once, so that the hub's code is compiled before its baseline is taken.
  const warmup = await startBob(address, ['--extra-forwarders', '1000']);
  await warmup.bob.kill();
  await eventually(gone, 15_000, 100);
  const baseline = await hub.call<Sample>('sample');
  const { bob, forwardingAddress } = await startBob(address, ['--extra-forwarders', '1000']);
  const alice = await startAlice(address, forwardingAddress);
  await alice.call('open');
  await alice.call('trafficStart', [256, 16, 2_000]);
  await sleep(1_500);
  const loaded = await hub.call<Sample>('sample');
  console.log(
    `  hub: ${count(loaded.forwarders!)} forwarders, ${loaded.connections} connections, heap ${mib(loaded.heapUsed)} ` +
      `(${mib(loaded.heapUsed - baseline.heapUsed, true)} from before Bob)`,
  );

  await bob.kill();
  const killedAt = Date.now();
  console.log('  Bob killed (SIGKILL)');
  const dropped = await eventually(
    async () => (await hub.call<Sample>('sample')).forwarders === 0,
    15_000,
    100,
  );
  const droppedMs = Date.now() - killedAt;
  await sleep(1_000);
  const outcome = await alice.call<{ sent: number; acked: string; errored: [number, string][] }>(
    'trafficStop',
    [],
    30_000,
  );
  const probe = await alice.call<Probe>('probe', [2_000]);
  await eventually(gone, 15_000, 100); // the reservations too, after their grace period
  const after = await hub.call<Sample>('sample');
  const errors: Record<string, number> = {};
  for (const [, label] of outcome.errored) errors[label] = (errors[label] ?? 0) + 1;
  const acked = SeqSet.fromBase64(outcome.acked).count;
  console.log(
    `  hub: ${after.forwarders} forwarders ${seconds(droppedMs)} after the kill, ${after.connections} connection(s), ` +
      `heap ${mib(after.heapUsed)} (${mib(after.heapUsed - baseline.heapUsed, true)} from before Bob)`,
  );
  console.log(
    `  Alice: ${count(outcome.sent)} requests = ${count(acked)} acknowledged + ${count(outcome.errored.length)} failed ${JSON.stringify(errors)}; ` +
      `probe through her channel: ${probe.ok ? 'answered (!)' : probe.error}`,
  );
  checks.check(
    'the hub drops every forwarder of the dead node',
    dropped,
    `0 left, ${seconds(droppedMs)} after the kill`,
  );
  const kept = after.heapUsed - baseline.heapUsed;
  const held = loaded.heapUsed - baseline.heapUsed;
  checks.check(
    'and frees their memory',
    kept < Math.max(512 * 1024, held / 4),
    `${mib(held, true)} with them, ${mib(kept, true)} after (bound max(0.5 MiB, a quarter of it))`,
  );
  checks.check(
    "every one of Alice's requests ended, acknowledged or with a typed error",
    acked + outcome.errored.length === outcome.sent,
    `${count(outcome.sent)} = ${count(acked)} + ${count(outcome.errored.length)}`,
  );
  checks.check(
    'the hub keeps serving Alice',
    after.connections === 1,
    `${after.connections} connection(s) left`,
  );
  await stopAll();
}

async function stall(checks: Checks): Promise<void> {
  const size = 16 * 1024;
  const drainTimeoutMs = 5_000;
  console.log(
    `\n== stall: SIGSTOP the hub under a flood of ${size / 1024} KiB messages from Alice (drain timeout ${seconds(drainTimeoutMs)})`,
  );
  const { hub, address } = await startHub();
  const { bob, forwardingAddress } = await startBob(address);
  const alice = await startAlice(address, forwardingAddress, ['--drain-timeout-ms', String(drainTimeoutMs)]);
  await alice.call('open');
  const idle = await alice.call<Sample>('sample');
  // Every node counts the flood's dead letters (bodies of its size or more), for the reconciliation.
  for (const child of [alice, hub, bob]) await child.call('tallyStart', [size]);
  await alice.call('floodStart', [size]);
  await sleep(1_000);
  const flowing = await alice.call<FloodStatus>('floodStatus');
  console.log(`  flowing: ${count(flowing.sent)} messages sent in 1 s`);

  hub.signal('SIGSTOP');
  console.log('  hub stopped (SIGSTOP): it reads nothing');
  const held = await eventually(
    async () => (await alice.call<FloodStatus>('floodStatus')).sinceProgressMs > 1_000,
    10_000,
    100,
  );
  const atHold = await alice.call<Sample>('sample');
  await sleep(1_500);
  const later = await alice.call<Sample>('sample');
  const status = await alice.call<FloodStatus>('floodStatus');
  const live = (s: Sample): number => s.heapUsed + s.arrayBuffers;
  // What can be queued: the encryptor's mailbox (NodeOptions.mailboxCapacity 1024 messages), the connection
  // worker's (TCP_DEFAULTS.connectionMailboxCapacity 256 frames), the frame being written, the socket buffers.
  const bound = (1024 + 256 + 2) * (size + 512) + 8 * 1024 * 1024;
  console.log(
    `  sender held after ${count(status.sent)} messages; Alice's heap + buffers: ${mib(live(idle))} idle, ` +
      `${mib(live(atHold))} when held, ${mib(live(later))} 1.5 s later (bound ${mib(live(idle) + bound)})`,
  );
  const closed = await eventually(
    async () => (await alice.call<FloodStatus>('floodStatus')).closed !== null,
    drainTimeoutMs + 10_000,
    200,
  );
  const end = await alice.call<FloodStatus>('floodStatus');
  await sleep(500);
  const released = await alice.call<Sample>('sample');
  console.log(
    `  connection closed: ${end.closed} (sender released: ${end.running ? 'no' : 'yes'}); dead letters ${JSON.stringify(released.deadLetters)}; ` +
      `heap + buffers ${mib(live(released))}`,
  );
  hub.signal('SIGCONT');
  console.log('  hub continued (SIGCONT)');
  const back = await eventually(async () => (await bob.call<Sample>('sample')).registered === true, 20_000);
  const reopened = await alice.call<{ ms: number }>('open', [20_000], 30_000);
  const probe = await alice.call<Probe>('probe', [3_000]);
  // What the hub had read before it stopped reaches Bob after SIGCONT: wait for his sink to settle.
  let received = -1;
  await eventually(
    async () => {
      const now = (await bob.call<Sample & { sink: SinkCounts }>('sample')).sink.received;
      const settled = now === received;
      received = now;
      return settled;
    },
    20_000,
    1_000,
  );
  const seen = await bob.call<SinkCounts & { bitmap: string }>('seen');
  const tallies = await Promise.all([alice, hub, bob].map((child) => child.call<DropCounts>('tally')));
  const oneWay = reconcileOneWay(
    { first: end.first, sent: end.sent, errored: new Map(end.errored) },
    SeqSet.fromBase64(seen.bitmap),
    seen,
    tallies.map((t) => ({ ids: SeqSet.fromBase64(t.ids), opaque: t.opaque })),
  );
  console.log(
    `  recovered: new channel in ${reopened.ms} ms, probe ${probe.ok ? 'ok' : probe.error}; Bob's sink got ${count(seen.received)} of ` +
      `${count(end.sent)} flooded messages; dead letters of the flood: ${['alice', 'hub', 'bob']
        .map((name, i) => `${name} ${JSON.stringify(tallies[i]!.reasons)}`)
        .join(', ')}`,
  );
  console.log(`  one-way reconciliation: ${describeOneWay(oneWay)}`);
  checks.check('the sender is held while the peer does not read', held, `no send completed for over 1 s`);
  checks.check(
    "the sender's memory stays within its bound",
    live(later) - live(idle) < bound,
    `${mib(live(later) - live(idle), true)} (bound ${mib(bound)})`,
  );
  checks.check(
    'and stops growing once held',
    live(later) - live(atHold) < 1024 * 1024,
    `${mib(live(later) - live(atHold), true)} in 1.5 s`,
  );
  checks.check(
    'the stalled connection is closed after the drain timeout',
    closed && end.closed === 'TIMEOUT',
    String(end.closed),
  );
  checks.check(
    'what was queued is let go',
    live(released) - live(idle) < 4 * 1024 * 1024,
    `${mib(live(released) - live(idle), true)} from idle`,
  );
  checks.check(
    'every flooded message delivered once, or counted exactly once as lost on some node',
    oneWayReconciled(oneWay),
    `${oneWay.unaccounted} unaccounted, ${oneWay.overcounted} overcounted, ${oneWay.duplicates} duplicated of ${count(oneWay.sent)}`,
  );
  checks.check(
    'Bob, Alice and the hub recover',
    back && probe.ok,
    `Bob registered: ${back}, probe: ${probe.ok ? 'ok' : probe.error}`,
  );
  await stopAll();
}

async function cycles(checks: Checks): Promise<void> {
  const n = Number(args.cycles);
  console.log(`\n== cycles: ${count(n)} connect / register / unregister / disconnect cycles, 4 at a time`);
  const { hub, address } = await startHub('127.0.0.1:0', ['--max-forwarders-per-connection', '16']);
  const { child: cycler } = await Child.start('cycler', 'cycler', ['--hub', address, '--lanes', '4'], {
    echoStderr,
  });
  await cycler.call('cycles', [100]); // warm-up
  await eventually(async () => (await hub.call<Sample>('sample')).connections === 0, 5_000, 100);
  const hub0 = await hub.call<Sample>('sample');
  const client0 = await cycler.call<Sample>('sample');
  const progress = setInterval(() => {
    void cycler
      .call<{ done: number }>('progress', [], 10_000)
      .then((p) => console.log(`  ${count(p.done - 100).padStart(7)} cycles`))
      .catch(() => undefined);
  }, 5_000);
  const result = await cycler
    .call<{ ms: number; failed: number; errors: Record<string, number> }>('cycles', [n], 900_000)
    .finally(() => clearInterval(progress));
  await eventually(async () => (await hub.call<Sample>('sample')).connections === 0, 5_000, 100);
  const hub1 = await hub.call<Sample>('sample');
  const client1 = await cycler.call<Sample>('sample');
  console.log(
    `  ${count(n)} cycles in ${seconds(result.ms)} (${count(n / (result.ms / 1000))}/s), ${result.failed} failed ${JSON.stringify(result.errors)}`,
  );
  for (const [name, a, b] of [
    ['hub', hub0, hub1],
    ['client', client0, client1],
  ] as const) {
    console.log(
      `  ${name}: connections ${a.connections} -> ${b.connections}, workers ${a.workers} -> ${b.workers}, ` +
        `listeners ${JSON.stringify(a.listeners)} -> ${JSON.stringify(b.listeners)}, heap ${mib(a.heapUsed)} -> ${mib(b.heapUsed)}`,
    );
    const changes = handleChanges(lastingHandles(a.handles), lastingHandles(b.handles));
    checks.check(
      `${name}: no connection, worker or listener left behind`,
      a.connections === b.connections &&
        a.workers === b.workers &&
        JSON.stringify(a.listeners) === JSON.stringify(b.listeners) &&
        (a.forwarders ?? 0) === (b.forwarders ?? 0),
      `${b.connections} connections, ${b.workers} workers, ${b.forwarders ?? '-'} forwarders`,
    );
    checks.check(
      `${name}: handles back to their count`,
      changes.length === 0,
      changes.length === 0 ? 'unchanged' : changes.join(', '),
    );
    checks.check(
      `${name}: heap after GC flat`,
      b.heapUsed - a.heapUsed < 2 * 1024 * 1024,
      mib(b.heapUsed - a.heapUsed, true),
    );
  }
  checks.check('every cycle succeeded', result.failed === 0, `${result.failed} of ${count(n)} failed`);
  await stopAll();
}

const FAULTS: Record<string, (checks: Checks) => Promise<void>> = {
  'hub-kill': hubKill,
  'bob-kill': bobKill,
  stall,
  cycles,
  'reliable-hub-kill': (checks) => reliableHubKill(checks),
  'reliable-partition': (checks) => reliablePartition(checks),
};

runProgram(
  async () => {
    const names = args.only === undefined ? Object.keys(FAULTS) : args.only.split(',');
    for (const name of names) if (FAULTS[name] === undefined) throw new Error(`unknown fault ${name}`);
    const checks = new Checks();
    for (const name of names) await FAULTS[name]!(checks);
    return checks.passed;
  },
  Number(args['time-limit-s']) * 1000,
);
