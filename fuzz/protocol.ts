/** What `run.ts` and its worker threads say to each other. */

/** Input bytes of the case in progress kept for the hang report (the first ones, if the input is longer). */
export const TRACE_BYTES = 4096;

/** Shared with a worker: `Int32[0]` counts cases started, `Int32[1]` the traced input's length (-1: none). */
export interface WorkerData {
  readonly trace: SharedArrayBuffer;
}

/** One slice of a property's cases, run with its own seed. */
export interface Shard {
  readonly id: number;
  readonly name: string;
  readonly runs: number;
  readonly seed: number;
  readonly path?: string;
  readonly timeLimitMs?: number;
}

/** How a shard went. */
export interface ShardResult {
  readonly id: number;
  readonly name: string;
  readonly seed: number;
  readonly numRuns: number;
  readonly failed: boolean;
  readonly interrupted: boolean;
  readonly counterexamplePath: string | null;
  /** fast-check's report (counterexample, seed, path, error) when it failed. */
  readonly report: string | undefined;
  readonly ms: number;
}
