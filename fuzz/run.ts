/**
 * `npm run fuzz`: every decoder property in `fuzz/properties`, about a million cases in all, spread over worker
 * threads (one per core, two at most by default). Prints the cases and time of each property and the total,
 * and exits 1 if any property failed (printing fast-check's counterexample, seed and path, and the
 * command that replays it) or any case hung, 2 if it ran out of time first (every case run held), else 0.
 *
 *   npm run fuzz -- [--cases N] [--seconds S] [--seed N] [--property SUBSTRING]... [--path P] [--workers N]
 *
 * `--cases` scales every property's share of the default total (the sum of their `runs`, just over a million); `--seconds` bounds the whole run
 * (properties still running then stop early and say how many cases they ran; that is not a failure, and
 * the exit code is 2). A worker
 * whose case counter stands still for `--stall-seconds` (default 30) is stuck in a decoder: the property, the
 * seed and the input bytes of the stuck case are printed, the worker is replaced, and the run fails.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { allProperties } from './properties';
import { TRACE_BYTES, type Shard, type ShardResult, type WorkerData } from './protocol';

/** Shards keep both workers busy to the end and bound how much one hang report leaves unrun. */
const SHARD_RUNS = 20_000;

const { values: args } = parseArgs({
  options: {
    cases: { type: 'string' },
    seconds: { type: 'string', default: '300' },
    seed: { type: 'string' },
    property: { type: 'string', multiple: true },
    path: { type: 'string' },
    workers: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    'stall-seconds': { type: 'string', default: '30' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`--${name} must be a positive number, got ${text}`);
    process.exit(2);
  }
  return value;
}

/** Everything the run prints as it goes and at the end. */
interface Tally {
  cases: number;
  ms: number;
  shards: number;
  done: number;
  interrupted: boolean;
  failures: string[];
}

function main(): void {
  if (args.help) {
    console.log(
      'npm run fuzz -- [--cases N] [--seconds S] [--seed N] [--property SUBSTRING]... [--path P] [--workers N]',
    );
    for (const p of allProperties)
      console.log(`  ${p.name.padEnd(44)} ${p.runs.toLocaleString('en')} cases by default`);
    return;
  }
  const defaultTotal = allProperties.reduce((sum, p) => sum + p.runs, 0);
  const totalCases = args.cases === undefined ? defaultTotal : positive('cases', args.cases);
  const seconds = positive('seconds', args.seconds!);
  const workerCount = Math.floor(positive('workers', args.workers!));
  const stallMs = positive('stall-seconds', args['stall-seconds']!) * 1000;
  const baseSeed =
    args.seed === undefined ? Math.floor(Math.random() * 0x7fffffff) : Math.floor(Number(args.seed));
  const filters = args.property ?? [];
  const selected = allProperties.filter(
    (p) => filters.length === 0 || filters.some((f) => p.name.includes(f)),
  );
  if (selected.length === 0) {
    console.error(`no property matches ${filters.join(', ')}`);
    process.exit(2);
  }
  if (args.path !== undefined && selected.length !== 1) {
    console.error('--path replays one case: name exactly one property with --property');
    process.exit(2);
  }

  // Each property keeps its share of the default total; --cases scales them all.
  const scale = totalCases / defaultTotal;
  const shards: Shard[] = [];
  for (const p of selected) {
    let runs = Math.max(1, Math.ceil(p.runs * scale));
    // A replay runs the one shard the failure came from: its seed and path, as printed.
    if (args.path !== undefined) {
      shards.push({ id: 0, name: p.name, runs, seed: baseSeed, path: args.path });
      continue;
    }
    while (runs > 0) {
      const size = Math.min(runs, SHARD_RUNS);
      const id = shards.length;
      shards.push({ id, name: p.name, runs: size, seed: (baseSeed + id * 7919) | 0 });
      runs -= size;
    }
  }

  const started = performance.now();
  const deadline = started + seconds * 1000;
  const byProperty = new Map(
    selected.map((p) => [
      p.name,
      { cases: 0, ms: 0, shards: 0, done: 0, interrupted: false, failures: [] } as Tally,
    ]),
  );
  for (const s of shards) byProperty.get(s.name)!.shards++;
  const planned = shards.reduce((sum, s) => sum + s.runs, 0);
  console.log(
    `fuzzing ${selected.length} properties, ${planned.toLocaleString('en')} cases, ${workerCount} workers, ` +
      `seed ${baseSeed}, at most ${seconds} s`,
  );

  const queue = [...shards];
  let failed = false;
  let running = 0;

  const finish = (): void => {
    const wall = (performance.now() - started) / 1000;
    let total = 0;
    console.log('');
    for (const [name, t] of byProperty) {
      total += t.cases;
      const status = t.failures.length > 0 ? 'FAILED' : t.interrupted ? 'time limit' : 'ok';
      console.log(
        `${name.padEnd(44)} ${t.cases.toLocaleString('en').padStart(10)} cases ${(t.ms / 1000).toFixed(1).padStart(7)} s  ${status}`,
      );
    }
    console.log(
      `${'total'.padEnd(44)} ${total.toLocaleString('en').padStart(10)} cases ${wall.toFixed(1).padStart(7)} s wall`,
    );
    if ([...byProperty.values()].some((t) => t.interrupted))
      console.log(
        `stopped at the ${seconds} s limit after ${total.toLocaleString('en')} of ${planned.toLocaleString('en')} cases`,
      );
    const timedOut = [...byProperty.values()].some((t) => t.interrupted || t.done < t.shards);
    console.log(
      failed ? 'FUZZING FAILED' : timedOut ? 'out of time: every case run held' : 'all properties held',
    );
    // As every long-running check here: 0 passed, 1 failed, 2 ran out of time (docs/RELIABILITY.md).
    process.exit(failed ? 1 : timedOut ? 2 : 0);
  };

  const record = (result: ShardResult): void => {
    const t = byProperty.get(result.name)!;
    t.cases += result.numRuns;
    t.ms += result.ms;
    t.done++;
    t.interrupted ||= result.interrupted && !result.failed;
    if (result.failed) {
      failed = true;
      const replay =
        `npm run fuzz -- --property '${result.name}' --seed ${result.seed}` +
        (result.counterexamplePath === null ? '' : ` --path '${result.counterexamplePath}'`);
      t.failures.push(result.report ?? 'failed');
      console.log(`\nFAILED ${result.name} (seed ${result.seed})\n${result.report}\nreplay: ${replay}\n`);
    }
    if (t.done === t.shards && !result.failed) {
      console.log(
        `${t.failures.length === 0 ? 'ok  ' : 'FAIL'} ${result.name}: ${t.cases.toLocaleString('en')} cases, ${(t.ms / 1000).toFixed(1)} s`,
      );
    }
  };

  const spawn = (): void => {
    const trace = new SharedArrayBuffer(8 + TRACE_BYTES);
    const header = new Int32Array(trace, 0, 2);
    const data: WorkerData = { trace };
    const worker = new Worker(
      `require('ts-node').register({ project: ${JSON.stringify(resolve(__dirname, 'tsconfig.json'))}, transpileOnly: true });` +
        `require(${JSON.stringify(resolve(__dirname, 'worker.ts'))});`,
      { eval: true, workerData: data },
    );
    let current: Shard | undefined;
    let lastCount = 0;
    let lastMove = performance.now();
    running++;

    const next = (): void => {
      // Past the time limit, shards not started are left unrun (counted as interrupted), rather than each
      // started for a millisecond: building some properties alone takes seconds.
      if (performance.now() >= deadline) {
        for (const left of queue.splice(0)) byProperty.get(left.name)!.interrupted = true;
      }
      current = queue.shift();
      if (current === undefined) {
        void worker.terminate();
        return;
      }
      const remaining = Math.max(1, Math.floor(deadline - performance.now()));
      lastMove = performance.now();
      worker.postMessage({ ...current, timeLimitMs: current.path === undefined ? remaining : undefined });
    };
    const watchdog = setInterval(() => {
      const count = Atomics.load(header, 0);
      if (count !== lastCount || current === undefined) {
        lastCount = count;
        lastMove = performance.now();
        return;
      }
      if (performance.now() - lastMove < stallMs) return;
      // The worker's thread is stuck inside one case: report what it was given, and replace the worker.
      const length = Atomics.load(header, 1);
      const input =
        length < 0
          ? 'not recorded'
          : Buffer.from(new Uint8Array(trace, 8, Math.min(length, TRACE_BYTES))).toString('hex');
      const shard = current;
      current = undefined;
      failed = true;
      const t = byProperty.get(shard.name)!;
      t.done++;
      t.failures.push('hang');
      console.log(
        `\nHANG ${shard.name} (shard seed ${shard.seed}): one case ran over ${stallMs / 1000} s.\n` +
          `input (${length} bytes): ${input}\nreplay: npm run fuzz -- --property '${shard.name}' --seed ${shard.seed}\n`,
      );
      clearInterval(watchdog);
      void worker.terminate();
    }, 1000);

    worker.on('message', (message: ShardResult | 'ready') => {
      if (message !== 'ready') {
        current = undefined;
        record(message);
      }
      next();
    });
    worker.on('error', (error) => {
      failed = true;
      console.log(
        `\nworker error${current === undefined ? '' : ` in ${current.name} (seed ${current.seed})`}: ${error.stack ?? error.message}`,
      );
      if (current !== undefined) byProperty.get(current.name)!.done++;
      current = undefined;
    });
    worker.on('exit', () => {
      clearInterval(watchdog);
      running--;
      // A replaced worker's shards are not lost: another takes the rest of the queue.
      if (queue.length > 0 && performance.now() < deadline) spawn();
      else if (running === 0) finish();
    });
  };

  for (let i = 0; i < Math.min(workerCount, shards.length); i++) spawn();
}

main();
