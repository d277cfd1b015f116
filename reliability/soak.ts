/**
 * Soak: pushes a million messages through a secure channel via a hub, with the hub, Bob and Alice as
 * three processes, and checks that nothing accumulates: heap after GC at the end within a few MiB of what
 * it was after warm-up, its slope over the rounds (least squares, projected over the whole run) and its
 * peak within bounds too (a steady leak that GC noise hides at the end, or a build-up that drains before
 * it), handles back to their starting count, every message delivered once and intact.
 *
 *   npm run soak                          # 1,000,000 messages of 64 bytes
 *   npm run soak -- --messages 200000 --size 1024 --round 20000 --verbose
 *
 * Alice sends in rounds (one-way sends through the channel, then a flush request through Bob's sink);
 * between rounds every process is sampled after a full GC (--expose-gc) and progress is printed.
 */
import { parseArgs } from 'node:util';
import { Child, runProgram } from './lib/child';
import { handleChanges, lastingHandles, mib } from './lib/measure';
import { deadLetterTotal, type NodeSample } from './lib/node-sample';
import type { SinkCounts } from './lib/numbered';
import { Checks, count, printTable, seconds } from './lib/report';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    size: { type: 'string', default: '64' },
    round: { type: 'string', default: '50000' },
    'max-heap-growth-mib': { type: 'string', default: '4' },
    /** Bound of the heap's peak after GC (any round) above its warm-up value. */
    'max-heap-peak-mib': { type: 'string', default: '8' },
    'time-limit-s': { type: 'string', default: '1200' },
    verbose: { type: 'boolean', default: false },
  },
});
const messages = Number(args.messages);
const size = Number(args.size);
const roundSize = Math.min(Number(args.round), messages);
const maxGrowth = Number(args['max-heap-growth-mib']) * 1024 * 1024;
const maxPeak = Number(args['max-heap-peak-mib']) * 1024 * 1024;

/** Least-squares slope of `ys` over `xs` (bytes per message); undefined for fewer than 3 points. */
function slope(xs: readonly number[], ys: readonly number[]): number | undefined {
  const n = xs.length;
  if (n < 3) return undefined;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? undefined : num / den;
}

interface Burst {
  sent: number;
  ms: number;
  sink: SinkCounts;
}

runProgram(
  async () => {
    console.log(`Soak: ${count(messages)} messages of ${size} bytes, hub, Bob and Alice as processes`);
    const echoStderr = args.verbose;
    const { child: hub, ready: hubReady } = await Child.start<{ address: string }>('hub', 'hub', [], {
      echoStderr,
    });
    const { child: bob, ready: bobReady } = await Child.start<{ forwardingAddress: string }>(
      'bob',
      'bob',
      ['--hub', hubReady.address],
      { echoStderr },
    );
    const { child: alice } = await Child.start(
      'alice',
      'alice',
      ['--hub', hubReady.address, '--to', bobReady.forwardingAddress],
      {
        echoStderr,
      },
    );
    const procs = { hub, bob, alice };
    const sampleAll = async (): Promise<Record<string, NodeSample>> => ({
      hub: await hub.call<NodeSample>('sample'),
      bob: await bob.call<NodeSample>('sample'),
      alice: await alice.call<NodeSample>('sample'),
    });

    await alice.call('open');
    const start = await sampleAll();
    // Warm-up: code paths optimised, pools and caches at their working size.
    const warmupSize = Math.min(roundSize, Math.max(10_000, Math.floor(messages / 20)));
    const warm = await alice.call<Burst>('burst', [warmupSize, size]);
    const warmed = await sampleAll();
    console.log(`Warm-up: ${count(warmupSize)} messages in ${seconds(warm.ms)}`);
    console.log(
      `  heap after GC: ${Object.entries(warmed)
        .map(([name, s]) => `${name} ${mib(s.heapUsed)}`)
        .join(', ')}`,
    );

    const peak: Record<string, number> = { hub: 0, bob: 0, alice: 0 };
    /** Messages sent at each sample, and each process's heap after GC then. */
    const sentAt: number[] = [];
    const heapAt: Record<string, number[]> = { hub: [], bob: [], alice: [] };
    let sent = 0;
    let sendMs = 0;
    let sink: SinkCounts = warm.sink;
    const started = Date.now();
    while (sent < messages) {
      const n = Math.min(roundSize, messages - sent);
      const burst = await alice.call<Burst>('burst', [n, size], 600_000);
      sent += n;
      sendMs += burst.ms;
      sink = burst.sink;
      const now = await sampleAll();
      for (const name of Object.keys(peak)) peak[name] = Math.max(peak[name]!, now[name]!.heapUsed);
      sentAt.push(sent);
      for (const name of Object.keys(heapAt)) heapAt[name]!.push(now[name]!.heapUsed);
      console.log(
        `  ${count(sent).padStart(count(messages).length)} / ${count(messages)}  ` +
          `${count(n / (burst.ms / 1000)).padStart(7)} msg/s  heap after GC: ` +
          Object.entries(now)
            .map(
              ([name, s]) => `${name} ${mib(s.heapUsed)} (${mib(s.heapUsed - warmed[name]!.heapUsed, true)})`,
            )
            .join(', '),
      );
    }
    const wallMs = Date.now() - started;
    const end = await sampleAll();

    console.log('\nResults');
    const rows = [
      [
        'process',
        'heap after warm-up',
        'heap at end',
        'growth',
        'peak',
        'arrayBuffers growth',
        'handles at start',
        'handles at end',
      ],
    ];
    for (const name of Object.keys(procs)) {
      const [w, e, s] = [warmed[name]!, end[name]!, start[name]!];
      rows.push([
        name,
        mib(w.heapUsed),
        mib(e.heapUsed),
        mib(e.heapUsed - w.heapUsed, true),
        mib(peak[name]!),
        mib(e.arrayBuffers - w.arrayBuffers, true),
        formatHandles(s.handles),
        formatHandles(e.handles),
      ]);
    }
    printTable(rows);
    const total = sent + warmupSize;
    console.log(
      `  throughput: ${count(sent / (sendMs / 1000))} msg/s (${((sent * size) / (sendMs / 1000) / 1e6).toFixed(2)} MB/s of bodies) ` +
        `over ${count(sent)} messages; ${seconds(wallMs)} wall time including sampling`,
    );

    console.log('\nChecks');
    const checks = new Checks();
    checks.check(
      'every message delivered once and intact',
      sink.received === total && sink.duplicates === 0 && sink.corrupted === 0,
      `Bob's sink received ${count(sink.received)} of ${count(total)}, ${sink.duplicates} duplicates, ${sink.corrupted} corrupted`,
    );
    for (const name of Object.keys(procs)) {
      const growth = end[name]!.heapUsed - warmed[name]!.heapUsed;
      checks.check(
        `${name}: heap after GC stays flat`,
        growth < maxGrowth,
        `${mib(growth, true)} (bound ${mib(maxGrowth)})`,
      );
      const perMessage = slope(sentAt, heapAt[name]!);
      checks.check(
        `${name}: heap after GC has no upward trend`,
        perMessage === undefined || perMessage * messages < maxGrowth,
        perMessage === undefined
          ? 'fewer than 3 rounds: no trend to fit'
          : `${perMessage.toFixed(3)} B per message over ${sentAt.length} rounds, ${mib(perMessage * messages, true)} ` +
              `projected over ${count(messages)} messages (bound ${mib(maxGrowth)})`,
      );
      const peakGrowth = peak[name]! - warmed[name]!.heapUsed;
      checks.check(
        `${name}: heap after GC never peaks far above warm-up`,
        peakGrowth < maxPeak,
        `peak ${mib(peak[name]!)}, ${mib(peakGrowth, true)} above warm-up (bound ${mib(maxPeak)})`,
      );
      const changes = handleChanges(lastingHandles(start[name]!.handles), lastingHandles(end[name]!.handles));
      checks.check(
        `${name}: handles back to their starting count`,
        changes.length === 0,
        changes.length === 0 ? formatHandles(lastingHandles(end[name]!.handles)) : changes.join(', '),
      );
      checks.check(
        `${name}: no dead letters`,
        deadLetterTotal(end[name]!) === 0,
        JSON.stringify(end[name]!.deadLetters),
      );
    }
    const exits = await Promise.all([alice.stop(), bob.stop(), hub.stop()]);
    checks.check(
      'all three exit cleanly when stopped',
      exits.every((code) => code === 0),
      `exit codes ${exits.join(', ')}`,
    );
    return checks.passed;
  },
  Number(args['time-limit-s']) * 1000,
);

function formatHandles(handles: Record<string, number>): string {
  return Object.entries(handles)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, n]) => `${kind.replace(/Wrap$/, '')} ${n}`)
    .join(', ');
}
