/**
 * A fuzz worker thread: runs the shards `run.ts` sends it, one at a time, and reports each one's details. Before
 * every case it bumps a counter in shared memory and the properties record the case's input bytes there
 * (`traceCase`), so that the main thread can tell a decoder that never returns from a slow shard and print the
 * input it is stuck on, even though this thread is blocked.
 */
import fc from 'fast-check';
import { parentPort, workerData } from 'node:worker_threads';
import { allProperties } from './properties';
import { setCaseTracer } from './properties/support';
import { TRACE_BYTES, type Shard, type ShardResult, type WorkerData } from './protocol';

const { trace } = workerData as WorkerData;
const header = new Int32Array(trace, 0, 2);
const bytes = new Uint8Array(trace, 8, TRACE_BYTES);

setCaseTracer({
  start() {
    Atomics.add(header, 0, 1);
    Atomics.store(header, 1, -1); // no input recorded for this case yet
  },
  input(input) {
    bytes.set(input.subarray(0, Math.min(input.length, TRACE_BYTES)));
    Atomics.store(header, 1, input.length);
  },
});

const byName = new Map(allProperties.map((p) => [p.name, p]));

parentPort!.on('message', (shard: Shard) => {
  void run(shard).then((result) => parentPort!.postMessage(result));
});

async function run(shard: Shard): Promise<ShardResult> {
  const property = byName.get(shard.name)!;
  const started = performance.now();
  try {
    const details = await property.check({
      numRuns: shard.runs,
      seed: shard.seed,
      path: shard.path,
      timeLimitMs: shard.timeLimitMs,
    });
    return {
      id: shard.id,
      name: shard.name,
      seed: shard.seed,
      numRuns: details.numRuns,
      // fast-check counts a run its time limit stopped before any case as failed ("interrupted after 0
      // tests"): that is the time limit, not a counterexample, so it is not a failure here.
      failed: details.failed && !(details.interrupted && details.counterexample === null),
      interrupted: details.interrupted,
      counterexamplePath: details.counterexamplePath,
      report: details.failed && details.counterexample !== null ? report(details) : undefined,
      ms: performance.now() - started,
    };
  } catch (error) {
    // The property could not even be built (its set-up threw).
    return {
      id: shard.id,
      name: shard.name,
      seed: shard.seed,
      numRuns: 0,
      failed: true,
      interrupted: false,
      counterexamplePath: null,
      report: `set-up failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      ms: performance.now() - started,
    };
  }
}

/** fast-check's report, with the error the counterexample raised (fast-check 4 keeps it out of the text). */
function report(details: fc.RunDetails<unknown>): string {
  const text = fc.defaultReportMessage(details) ?? 'failed';
  const error = details.errorInstance;
  const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return `${text}\nGot error: ${why}`;
}

parentPort!.postMessage('ready');
