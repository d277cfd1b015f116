/**
 * The benchmark harness: suites of benchmarks, each a candidate measured beside a baseline (and other
 * comparisons) in interleaved rounds, reported as medians and ratios. See bench/README.md.
 */

/** One measurement: does the work once and returns the figure (in the benchmark's unit, higher is better). */
export type Round = () => Promise<number>;

/** A way of doing the measured thing other than the candidate: the baseline, or another library. */
export interface Variant {
  /** Appended to the benchmark's name: `bare` makes the row `local.oneway.bare`. */
  readonly name: string;
  readonly round: Round;
}

/** What a benchmark should show; printed as met or missed, never failing the run (the machine is noisy). */
export interface Goals {
  /** The candidate's value is at least this. */
  readonly atLeast?: number;
  /** The candidate's ratio against the baseline is at least this. */
  readonly ratioAtLeast?: number;
  /** The candidate is at least this many times the comparison of that name (`{ nact: 2 }`). */
  readonly timesAhead?: Readonly<Record<string, number>>;
  /**
   * The baseline is at least this many times the comparison of that name, as the median of their per-round
   * ratios (`{ noise_floor: 0.8 }`): for a baseline that is itself measured against a limit.
   */
  readonly baselineVs?: Readonly<Record<string, number>>;
}

/** One benchmark: the candidate (Sealroute), its baseline and comparisons, all measured in the same run. */
export interface Benchmark {
  /** `<suite>.<what>`, e.g. `local.oneway`. */
  readonly name: string;
  /** Of every variant's figure, e.g. `msgs/s`. */
  readonly unit: string;
  readonly candidate: Round;
  readonly baseline?: Variant;
  readonly comparisons?: readonly Variant[];
  /** Measured rounds per variant (after `WARMUP_ROUNDS`). Default `DEFAULT_ROUNDS`. */
  readonly rounds?: number;
  readonly goals?: Goals;
}

/** A suite: one `bench/<name>.bench.ts` file exporting `suite`, whose benchmark names start with `<name>.`. */
export interface Suite {
  readonly name: string;
  readonly benchmarks: readonly Benchmark[];
  /**
   * Runs once before the first of the suite's benchmarks that a run selected, outside every round: what
   * the rounds share and is slow to make, such as the child processes of a multi-process suite.
   */
  readonly setup?: () => Promise<void>;
  /** Runs once after the last of them, even if one failed: stops what `setup` started. */
  readonly teardown?: () => Promise<void>;
}

/** One row of the report and of `bench/results/latest.json`. */
export interface Result {
  readonly name: string;
  /** Median over the rounds. */
  readonly value: number;
  readonly unit: string;
  /** The name of the baseline row (which is in the same results) this row is compared with. */
  readonly baseline?: string;
  /**
   * How this row compares with the baseline: the median over rounds of value / baseline's value in the
   * same round. Above 1 is faster than the baseline.
   */
  readonly ratio?: number;
}

/** A result with what the table shows besides: the spread of the rounds and the goals. */
export interface Measured extends Result {
  /** (max - min) / median over the rounds: how far to trust the median. */
  readonly spread: number;
  /** Every round's figure, in the order run. */
  readonly figures: readonly number[];
  readonly goals?: string;
}

/** Rounds per variant when a benchmark does not say: odd, so the median is a measured value. */
export const DEFAULT_ROUNDS = 7;
/** Rounds of each variant run first and discarded: one was not enough for the JIT to settle. */
export const WARMUP_ROUNDS = 2;

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * A round's stopwatch. `cpu` counts the CPU time of this process (user + system, every thread): on a shared
 * machine it leaves out the time the OS gave to other processes, which wall time does not, and on an idle
 * core it is at least the wall time, so a rate per CPU-second never flatters. It is the clock for work that
 * never waits (local messaging); work that waits for I/O or timers needs `wall`.
 */
export type ClockKind = 'cpu' | 'wall';

/** Started by `startClock`; `perSecond(n)` is n operations over the time since then. */
export interface Clock {
  perSecond(count: number): number;
}

/** Starts a round's stopwatch on the given clock. */
export function startClock(kind: ClockKind): Clock {
  if (kind === 'wall') {
    const started = performance.now();
    return { perSecond: (count) => (count * 1000) / (performance.now() - started) };
  }
  const started = process.cpuUsage();
  return {
    perSecond: (count) => {
      const used = process.cpuUsage(started);
      return (count * 1e6) / (used.user + used.system);
    },
  };
}

/** Runs `fn` `WARMUP_ROUNDS` times to warm up, then `rounds` times, and returns the median figure. */
export async function measure(rounds: number, fn: Round): Promise<number> {
  return median((await interleave(rounds, [fn]))[0]!);
}

/**
 * Runs `WARMUP_ROUNDS` rounds of each function, then `rounds` rounds in which each runs once, in an order that
 * rotates from round to round, so that noise (another process, a GC, CPU frequency) falls on all of them
 * alike and none always runs first. Returns every function's measured figures.
 *
 * No forced GC between rounds: a full collection shrinks V8's young generation, and each round then paid
 * for growing it again (Sealroute's one-way figure halved), which is not how a running node behaves.
 */
export async function interleave(rounds: number, fns: readonly Round[]): Promise<number[][]> {
  const figures = fns.map((): number[] => []);
  for (let round = -WARMUP_ROUNDS; round < rounds; round++) {
    for (let k = 0; k < fns.length; k++) {
      const i = (k + Math.max(round, 0)) % fns.length;
      const figure = await fns[i]!();
      if (round >= 0) figures[i]!.push(figure);
    }
  }
  return figures;
}

/**
 * Measures a benchmark: a row for the candidate, one for the baseline, one for each comparison. A row's
 * ratio is the median of its per-round ratios to the baseline round run beside it, which cancels noise
 * that lasts a round or more better than the ratio of medians does.
 */
export async function runBenchmark(benchmark: Benchmark): Promise<Measured[]> {
  const variants: Variant[] = [
    { name: '', round: benchmark.candidate },
    ...(benchmark.baseline ? [benchmark.baseline] : []),
    ...(benchmark.comparisons ?? []),
  ];
  const figures = await interleave(
    benchmark.rounds ?? DEFAULT_ROUNDS,
    variants.map((v) => v.round),
  );
  const baseline = benchmark.baseline && {
    name: `${benchmark.name}.${benchmark.baseline.name}`,
    figures: figures[1]!,
  };
  const rows = variants.map((variant, i): Measured => {
    const values = figures[i]!;
    const value = median(values);
    const row: Measured = {
      name: variant.name === '' ? benchmark.name : `${benchmark.name}.${variant.name}`,
      value,
      unit: benchmark.unit,
      spread: (Math.max(...values) - Math.min(...values)) / value,
      figures: values,
    };
    if (baseline === undefined || i === 1) return row;
    const ratio = median(values.map((v, round) => v / baseline.figures[round]!));
    return { ...row, baseline: baseline.name, ratio };
  });
  if (benchmark.goals) rows[0] = { ...rows[0]!, goals: checkGoals(benchmark.goals, rows) };
  return rows;
}

function checkGoals(goals: Goals, rows: readonly Measured[]): string {
  const candidate = rows[0]!;
  const verdicts: string[] = [];
  const mark = (met: boolean): string => (met ? 'met' : 'MISSED');
  if (goals.atLeast !== undefined) {
    verdicts.push(`>= ${formatValue(goals.atLeast)} ${mark(candidate.value >= goals.atLeast)}`);
  }
  if (goals.ratioAtLeast !== undefined && candidate.ratio !== undefined) {
    verdicts.push(`>= ${goals.ratioAtLeast}x baseline ${mark(candidate.ratio >= goals.ratioAtLeast)}`);
  }
  for (const [name, factor] of Object.entries(goals.timesAhead ?? {})) {
    const other = rows.find((row) => row.name === `${candidate.name}.${name}`);
    if (other === undefined) continue;
    const times = candidate.value / other.value;
    verdicts.push(`${times.toFixed(1)}x ${name} (>= ${factor}x ${mark(times >= factor)})`);
  }
  const baseline = rows.find((row) => row.name === candidate.baseline);
  for (const [name, factor] of Object.entries(goals.baselineVs ?? {})) {
    const other = rows.find((row) => row.name === `${candidate.name}.${name}`);
    if (baseline === undefined || other?.ratio === undefined) continue;
    // other.ratio is the median of other / baseline per round; for an odd round count its inverse is the
    // median of baseline / other.
    const times = 1 / other.ratio;
    const label = baseline.name.slice(candidate.name.length + 1);
    verdicts.push(`${label} ${times.toFixed(2)}x ${name} (>= ${factor}x ${mark(times >= factor)})`);
  }
  return verdicts.join('; ');
}

/** `5234567` -> `5.23M`: three significant digits with an SI suffix. */
export function formatValue(value: number): string {
  const units: [number, string][] = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [scale, suffix] of units)
    if (Math.abs(value) >= scale) return (value / scale).toPrecision(3) + suffix;
  return value.toPrecision(3);
}
