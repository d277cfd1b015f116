/**
 * Scale: one hub with ten thousand concurrent secure channels through it, and ten thousand forwarders on
 * it. Reports heap per channel end (Bob's, and the clients'), per forwarder at the hub, and setup times.
 * Goals: at most 8 KiB of heap per channel end, 4 KiB per forwarder.
 *
 *   npm run scale                               # 10,000 channels from 4 client processes to one Bob
 *   npm run scale -- --channels 2000 --census   # also count what the heap holds per channel, by kind
 *
 * Heap per channel end = (heap after GC with the channels open - heap after GC before) / channels, in each
 * process; both are taken after every client process opened 50 warm-up channels (code compiled, caches
 * filled), which stay open.
 * Per forwarder the same at the hub, with forwarders registered by one client and no channels.
 */
import { parseArgs } from 'node:util';
import { Child, runProgram } from './lib/child';
import type { CensusGrowth } from './lib/heap-census';
import { kib, mib } from './lib/measure';
import type { NodeSample } from './lib/node-sample';
import { Checks, count, eventually, printTable, seconds, sleep } from './lib/report';

const { values: args } = parseArgs({
  options: {
    channels: { type: 'string', default: '10000' },
    forwarders: { type: 'string' },
    processes: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '32' },
    census: { type: 'boolean', default: false },
    'time-limit-s': { type: 'string', default: '1200' },
    verbose: { type: 'boolean', default: false },
  },
});
const channels = Number(args.channels);
const forwarders = Number(args.forwarders ?? args.channels);
const processes = Math.max(1, Math.min(Number(args.processes), channels));
const concurrency = Number(args.concurrency);
const GOAL_PER_END = 8 * 1024;
const GOAL_PER_FORWARDER = 4 * 1024;
const WARMUP_CHANNELS = 50;

type Sample = NodeSample & { channels?: number; forwarders?: number; connections?: number };
interface PoolResult {
  ms: number;
  failed: number;
  errors: Record<string, number>;
}

runProgram(
  async () => {
    console.log(
      `Scale: ${count(channels)} secure channels through one hub (${processes} client processes -> one Bob), ` +
        `then ${count(forwarders)} forwarders on it`,
    );
    const echoStderr = args.verbose;
    const { child: hub, ready: hubReady } = await Child.start<{ address: string }>(
      'hub',
      'hub',
      [
        '--max-forwarders',
        String(forwarders + 64),
        '--max-forwarders-per-connection',
        String(forwarders + 64),
        '--max-forwarders-per-source',
        String(forwarders + 64),
      ],
      { echoStderr },
    );
    const { child: bob, ready: bobReady } = await Child.start<{ forwardingAddress: string }>(
      'bob',
      'bob',
      ['--hub', hubReady.address],
      { echoStderr },
    );
    const swarms: Child[] = [];
    for (let i = 0; i < processes; i++) {
      const { child } = await Child.start(
        `client${i}`,
        'swarm',
        ['--hub', hubReady.address, '--to', bobReady.forwardingAddress],
        {
          echoStderr,
        },
      );
      swarms.push(child);
    }
    const checks = new Checks();

    // Warm-up: code compiled and caches filled before the first sample; these channels stay open throughout.
    const warmup = Math.min(WARMUP_CHANNELS, Math.floor(channels / processes));
    await Promise.all(swarms.map((swarm) => swarm.call('open', [warmup, 8], 300_000)));
    const shares = swarms.map(
      (_, i) => Math.floor(channels / processes) + (i < channels % processes ? 1 : 0),
    );
    if (args.census) {
      // Before the first sample: a census held in memory must be in both samples, not only in the second.
      await bob.call('censusStart', [], 300_000);
      await swarms[0]!.call('censusStart', [], 300_000);
    }
    const before = {
      hub: await hub.call<Sample>('sample'),
      bob: await bob.call<Sample>('sample'),
      swarms: await Promise.all(swarms.map((s) => s.call<Sample>('sample'))),
    };

    console.log(
      `\nOpening ${count(channels)} channels, ${concurrency} handshakes at once per client process...`,
    );
    const started = Date.now();
    const progress = setInterval(() => {
      void Promise.all(swarms.map((s) => s.call<{ channels: number }>('progress', [], 10_000)))
        .then((all) => {
          const open = all.reduce((sum, p) => sum + p.channels - warmup, 0);
          console.log(`  ${count(open).padStart(7)} open after ${seconds(Date.now() - started)}`);
        })
        .catch(() => undefined);
    }, 5_000);
    const opened = await Promise.all(
      swarms.map((s, i) => s.call<PoolResult>('open', [shares[i], concurrency], 900_000)),
    ).finally(() => clearInterval(progress));
    const setupMs = Date.now() - started;
    const failed = opened.reduce((sum, r) => sum + r.failed, 0);
    const errors = opened.map((r) => r.errors).filter((e) => Object.keys(e).length > 0);
    console.log(
      `  ${count(channels - failed)} channels open in ${seconds(setupMs)} ` +
        `(${count((channels - failed) / (setupMs / 1000))} handshakes/s)${failed > 0 ? `, ${failed} failed: ${JSON.stringify(errors)}` : ''}`,
    );

    const withChannels = {
      hub: await hub.call<Sample>('sample'),
      bob: await bob.call<Sample>('sample'),
      swarms: await Promise.all(swarms.map((s) => s.call<Sample>('sample'))),
    };
    const echoes = await Promise.all(swarms.map((s) => s.call<PoolResult>('echo', [25], 120_000)));
    const echoFailures = echoes.reduce((sum, r) => sum + r.failed, 0);

    const perBobEnd = (withChannels.bob.heapUsed - before.bob.heapUsed) / channels;
    const perClientEnd =
      withChannels.swarms.reduce((sum, s, i) => sum + s.heapUsed - before.swarms[i]!.heapUsed, 0) / channels;
    const buffersPerBobEnd = (withChannels.bob.arrayBuffers - before.bob.arrayBuffers) / channels;
    const buffersPerClientEnd =
      withChannels.swarms.reduce((sum, s, i) => sum + s.arrayBuffers - before.swarms[i]!.arrayBuffers, 0) /
      channels;
    console.log('\nMemory with the channels open (heap after GC)');
    const rows = [
      [
        'process',
        'channels',
        'heap before',
        'heap with channels',
        'heap per channel end',
        'array buffers per end',
      ],
    ];
    rows.push([
      'bob (responder ends)',
      count(withChannels.bob.channels! - before.bob.channels!),
      mib(before.bob.heapUsed),
      mib(withChannels.bob.heapUsed),
      kib(perBobEnd),
      `${Math.round(buffersPerBobEnd)} B`,
    ]);
    withChannels.swarms.forEach((s, i) =>
      rows.push([
        `client${i} (initiator ends)`,
        count(s.channels! - before.swarms[i]!.channels!),
        mib(before.swarms[i]!.heapUsed),
        mib(s.heapUsed),
        kib((s.heapUsed - before.swarms[i]!.heapUsed) / (s.channels! - before.swarms[i]!.channels!)),
        `${Math.round((s.arrayBuffers - before.swarms[i]!.arrayBuffers) / (s.channels! - before.swarms[i]!.channels!))} B`,
      ]),
    );
    rows.push([
      'hub (relays only)',
      '-',
      mib(before.hub.heapUsed),
      mib(withChannels.hub.heapUsed),
      kib((withChannels.hub.heapUsed - before.hub.heapUsed) / channels),
      '-',
    ]);
    printTable(rows);

    if (args.census) {
      for (const [name, proc, per] of [
        ['bob', bob, channels],
        ['client0', swarms[0]!, shares[0]!],
      ] as const) {
        const growth = await proc.call<(CensusGrowth & { perUnit: number })[]>('censusDiff', [per], 300_000);
        console.log(`\nWhat one channel end holds at ${name} (heap census, largest kinds first)`);
        printTable([
          ['kind', 'objects per end', 'bytes per end'],
          ...growth.slice(0, 16).map((g) => [g.kind, (g.count / per).toFixed(1), g.perUnit.toFixed(0)]),
        ]);
      }
    }

    console.log('\nClosing every channel but the warm-up ones...');
    const closeStarted = Date.now();
    await Promise.all(swarms.map((s) => s.call('closeAll', [warmup], 600_000)));
    const closeMs = Date.now() - closeStarted;
    // A closed channel's encryptor lingers (SECURE_CHANNEL_DEFAULTS.closedLinger, 10 s) to explain late sends.
    const drained = await eventually(
      async () => (await bob.call<Sample>('sample')).workers <= before.bob.workers,
      30_000,
      1_000,
    );
    await sleep(500);
    const afterClose = await bob.call<Sample>('sample');
    console.log(
      `  closed in ${seconds(closeMs)}; Bob then holds ${afterClose.channels} channels, ${afterClose.workers} workers ` +
        `(before: ${before.bob.workers}); heap ${mib(afterClose.heapUsed)} (${mib(afterClose.heapUsed - before.bob.heapUsed, true)} from before)`,
    );

    console.log(`\nRegistering ${count(forwarders)} forwarders at the hub from one client...`);
    const hubBefore = await hub.call<Sample>('sample');
    const registered = await swarms[0]!.call<PoolResult>('forward', [forwarders, 64], 900_000);
    const hubWith = await hub.call<Sample>('sample');
    const perForwarder =
      (hubWith.heapUsed - hubBefore.heapUsed) / (hubWith.forwarders! - hubBefore.forwarders!);
    console.log(
      `  ${count(hubWith.forwarders! - hubBefore.forwarders!)} registered in ${seconds(registered.ms)} ` +
        `(${count(forwarders / (registered.ms / 1000))}/s)${registered.failed > 0 ? `, ${registered.failed} failed: ${JSON.stringify(registered.errors)}` : ''}; ` +
        `hub heap ${mib(hubBefore.heapUsed)} -> ${mib(hubWith.heapUsed)}: ${kib(perForwarder)} per forwarder`,
    );
    await swarms[0]!.call('unforward', [], 900_000);
    const hubAfter = await hub.call<Sample>('sample');
    console.log(
      `  unregistered: the hub holds ${hubAfter.forwarders} forwarders, heap ${mib(hubAfter.heapUsed)} ` +
        `(${mib(hubAfter.heapUsed - hubBefore.heapUsed, true)} from before)`,
    );

    console.log('\nChecks');
    checks.check(
      'every channel opened',
      failed === 0,
      `${count(channels - failed)} of ${count(channels)} in ${seconds(setupMs)}`,
    );
    checks.check(
      'Bob holds them all at once',
      withChannels.bob.channels! - before.bob.channels! === channels,
      `${count(withChannels.bob.channels! - before.bob.channels!)} channels open at Bob's listener`,
    );
    checks.check(
      'channels carry traffic',
      echoFailures === 0,
      `${echoFailures} of ${25 * processes} echo requests failed`,
    );
    checks.check(
      'heap per channel end at Bob',
      perBobEnd <= GOAL_PER_END,
      `${kib(perBobEnd)} (goal ${kib(GOAL_PER_END)})`,
    );
    checks.check(
      'heap per channel end at the clients',
      perClientEnd <= GOAL_PER_END,
      `${kib(perClientEnd)} (goal ${kib(GOAL_PER_END)})`,
    );
    checks.check(
      'closed channels are let go',
      drained && afterClose.heapUsed - before.bob.heapUsed < Math.max(2 * 1024 * 1024, channels * 200),
      `Bob's workers back to ${afterClose.workers}, heap ${mib(afterClose.heapUsed - before.bob.heapUsed, true)}`,
    );
    checks.check('every forwarder registered', registered.failed === 0, `${registered.failed} failed`);
    checks.check(
      'heap per forwarder at the hub',
      perForwarder <= GOAL_PER_FORWARDER,
      `${kib(perForwarder)} (goal ${kib(GOAL_PER_FORWARDER)})`,
    );
    checks.check(
      'unregistered forwarders are let go',
      hubAfter.forwarders === hubBefore.forwarders,
      `the hub holds ${hubAfter.forwarders} (Bob's) as before`,
    );
    console.log(
      `  (array buffers per end, outside the heap: Bob ${Math.round(buffersPerBobEnd)} B, clients ${Math.round(buffersPerClientEnd)} B)`,
    );
    return checks.passed;
  },
  Number(args['time-limit-s']) * 1000,
);
