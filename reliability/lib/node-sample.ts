/**
 * A node's state for the reliability checks: memory after GC and handles (measure.ts), plus what the node
 * holds (workers, event listeners, dead letters by reason), which must all come back to where they were.
 */
import type { DropReason, NodeRuntime } from '../../src';
import { censusGrowth, heapCensus, type Census, type CensusGrowth } from './heap-census';
import { settledSample, type MemorySample } from './measure';

const DROP_REASONS: readonly DropReason[] = [
  'no-route',
  'worker-stopped',
  'node-stopped',
  'access-denied',
  'wrong-body-type',
  'undeliverable',
];

/** What a node holds at one moment. */
export interface NodeSample extends MemorySample {
  /** Running workers. */
  readonly workers: number;
  /** Dead letters since the node started, by reason (reasons with none left out). */
  readonly deadLetters: Record<string, number>;
  /** Event listeners on the node, its dead letters and the process. */
  readonly listeners: Record<string, number>;
}

/** Event listeners registered on the process, all events together. */
export function processListeners(): number {
  return process.eventNames().reduce((sum, name) => sum + process.listenerCount(name), 0);
}

/** Samples `node` (after a full collection). */
export async function sampleNode(node: NodeRuntime): Promise<NodeSample> {
  const memory = await settledSample();
  const deadLetters: Record<string, number> = {};
  for (const reason of DROP_REASONS) {
    const count = node.deadLetters.countOf(reason);
    if (count > 0) deadLetters[reason] = count;
  }
  return {
    ...memory,
    workers: node.workers().length,
    deadLetters,
    listeners: {
      node: node.eventNames().reduce((sum, name) => sum + node.listenerCount(name), 0),
      deadLetters: node.deadLetters.listenerCount('deadLetter'),
      process: processListeners(),
    },
  };
}

/** Dead letters in total. */
export function deadLetterTotal(sample: NodeSample): number {
  return Object.values(sample.deadLetters).reduce((sum, n) => sum + n, 0);
}

/**
 * Heap census commands for a child: `censusStart` counts the heap's objects, `censusDiff [per]` answers what
 * grew since, by kind, with the bytes per `per` units (channels, forwarders) when given.
 */
export function censusCommands(): Record<string, (args: readonly unknown[]) => unknown> {
  let before: Census | undefined;
  return {
    async censusStart() {
      await settledSample();
      // Counted twice: the second count, taken while the first is held, includes what holding a census
      // costs, as the final count will; so the diff shows only what the node itself kept.
      before = await heapCensus();
      before = await heapCensus();
      return null;
    },
    async censusDiff(args): Promise<(CensusGrowth & { perUnit?: number })[]> {
      if (before === undefined) throw new Error('censusStart first');
      await settledSample();
      const after = await heapCensus();
      const per = Number(args[0] ?? 0);
      return censusGrowth(before, after, 20).map((g) => (per > 0 ? { ...g, perUnit: g.bytes / per } : g));
    },
  };
}
