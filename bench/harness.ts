/**
 * The benchmark harness: suites of benchmarks, each a candidate measured beside a baseline (and other
 * comparisons) in interleaved rounds, reported as medians and ratios. See bench/README.md.
 */

/** What the harness tells a round: how much work to do, and whether its figure counts. */
export interface RoundRun {
  /**
   * How many times the benchmark's base work (its N) to do under one clock: 1, 2, ... (see `roundMs`). Only a
   * `scalable` benchmark's rounds get more than 1; the others are run `scale` times in a row instead.
   */
  readonly scale: number;
  /** A warm-up round: its figure is thrown away, and so should anything measured beside it (`CpuPerOp`). */
  readonly warmUp: boolean;
}

/**
 * One measurement: does the work (`run.scale` times the base work, if its benchmark is `scalable`) and
 * returns the figure, in the benchmark's unit: a rate, higher is better.
 */
export type Round = (run: RoundRun) => Promise<number>;

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
  /** Measured rounds per variant (after the warm-up rounds). Default `DEFAULT_ROUNDS`. */
  readonly rounds?: number;
  /**
   * Every variant's round does `run.scale` times its base work under one clock (a count in a command, say),
   * so a longer round costs no more fixed costs (a command's round trip, a final acknowledgement). Otherwise
   * the harness runs a round `scale` times in a row and combines their figures.
   */
  readonly scalable?: boolean;
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
  /** (max - min) / median of the rounds' figures: how far to trust `value`. */
  readonly spread: number;
  /** The name of the baseline row (which is in the same results) this row is compared with. */
  readonly baseline?: string;
  /**
   * How this row compares with the baseline: the median over rounds of value / baseline's value in the
   * same round. Above 1 is faster than the baseline.
   */
  readonly ratio?: number;
  /**
   * (max - min) / median of the per-round ratios that `ratio` is the median of: how far to trust `ratio`.
   * On a shared machine it is the honest measure, as load that lasts a round slows both rows of the round.
   */
  readonly ratioSpread?: number;
}

/** A result with what the report shows besides: every round's figure, the work per round, the goals. */
export interface Measured extends Result {
  /** Every round's figure, in the order run. */
  readonly figures: readonly number[];
  /** The `RoundRun.scale` the warm-up chose for this row's variant. */
  readonly scale: number;
  readonly goals?: string;
}

/** Rounds per variant when a benchmark does not say: odd, so the median is a measured value. */
export const DEFAULT_ROUNDS = 7;
/**
 * Warm-up rounds of each variant, run first and discarded: one was not enough for the JIT to settle. More
 * run while they still size the rounds (see `interleave`), up to `MAX_WARMUP_ROUNDS`.
 */
export const WARMUP_ROUNDS = 2;
export const MAX_WARMUP_ROUNDS = 6;
/** How long a round should last at least, in ms, unless `BENCH_ROUND_MS` says otherwise (0: no sizing). */
export const DEFAULT_ROUND_MS = 400;
/** The most a round's work grows from one warm-up round to the next: a fluke fast round cannot blow it up. */
const MAX_GROWTH = 8;

/**
 * The duration a round is sized to (`BENCH_ROUND_MS`, else `DEFAULT_ROUND_MS`). A round of a few ms is
 * dominated by its fixed costs and by whatever else the machine did in those ms (a GC, another process's
 * time slice): its figures spread widely. Sized to a few hundred ms, each round averages that noise out.
 */
export function roundMs(): number {
  const text = process.env.BENCH_ROUND_MS;
  if (text === undefined || text === '') return DEFAULT_ROUND_MS;
  const ms = Number(text);
  if (!Number.isFinite(ms) || ms < 0 || ms > 60_000) {
    throw new Error(`BENCH_ROUND_MS must be a number of ms from 0 to 60000, not '${text}'`);
  }
  return ms;
}

/**
 * The scale of a variant's next round, from its last round (at `scale`, `ms` long): what would last
 * `target` ms at the same rate, never less than now (a round never shrinks, so the base N is the least work)
 * and at most `MAX_GROWTH` times more. Rounded to the nearest: a round lasts between ~2/3 and ~3/2 of
 * `target` then, or longer when its base work does.
 */
export function nextScale(scale: number, ms: number, target: number): number {
  if (ms >= target) return scale;
  const wanted = Math.round((scale * target) / Math.max(ms, 1e-3));
  return Math.max(scale, Math.min(scale * MAX_GROWTH, wanted));
}

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

/** Warms up and sizes `fn` (see `interleave`), runs it `rounds` times, and returns the median figure. */
export async function measure(rounds: number, fn: Round, scalable = false): Promise<number> {
  return median((await interleave(rounds, [fn], scalable)).figures[0]!);
}

/** What `interleave` measured: every function's figures, and the scale its rounds ran at. */
export interface Interleaved {
  readonly figures: number[][];
  readonly scales: number[];
}

/**
 * Runs warm-up rounds of each function, then `rounds` rounds in which each runs once, in an order that
 * rotates from round to round, so that noise (another process, a GC, CPU frequency) falls on all of them
 * alike and none always runs first. Returns every function's measured figures.
 *
 * The warm-up also sizes the rounds: after each warm-up round a function's scale grows (`nextScale`) until
 * its round lasts about `roundMs()`, each function on its own (a rate does not depend on the work per round,
 * but its noise does). At least `WARMUP_ROUNDS` run, and more while a scale still grew, so that every
 * function has run a warm-up round at the scale it is measured at (up to `MAX_WARMUP_ROUNDS`). The scale
 * is then fixed: every measured round of a function does the same work.
 *
 * No forced GC between rounds: a full collection shrinks V8's young generation, and each round then paid
 * for growing it again (Sealroute's one-way figure halved), which is not how a running node behaves.
 */
export async function interleave(
  rounds: number,
  fns: readonly Round[],
  scalable = false,
): Promise<Interleaved> {
  const target = roundMs();
  const scales = fns.map(() => 1);
  const run = (i: number, warmUp: boolean): Promise<number> =>
    scalable ? fns[i]!({ scale: scales[i]!, warmUp }) : repeated(fns[i]!, scales[i]!, warmUp);
  for (let round = 1; ; round++) {
    let grew = false;
    for (let i = 0; i < fns.length; i++) {
      const started = performance.now();
      await run(i, true);
      const next = nextScale(scales[i]!, performance.now() - started, target);
      grew ||= next > scales[i]!;
      scales[i] = next;
    }
    if (round >= WARMUP_ROUNDS && (!grew || round >= MAX_WARMUP_ROUNDS)) break;
  }
  const figures = fns.map((): number[] => []);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < fns.length; k++) {
      const i = (k + round) % fns.length;
      figures[i]!.push(await run(i, false));
    }
  }
  return { figures, scales };
}

/**
 * `fn` run `times` times in a row as one round: the rate over all of them (each does the same work, so it
 * is `times` over the sum of the inverse rates, their harmonic mean).
 */
async function repeated(fn: Round, times: number, warmUp: boolean): Promise<number> {
  let inverse = 0;
  for (let k = 0; k < times; k++) inverse += 1 / (await fn({ scale: 1, warmUp }));
  return times / inverse;
}

/** (max - min) / median. */
function spreadOf(values: readonly number[]): number {
  return (Math.max(...values) - Math.min(...values)) / median(values);
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
  const { figures, scales } = await interleave(
    benchmark.rounds ?? DEFAULT_ROUNDS,
    variants.map((v) => v.round),
    benchmark.scalable,
  );
  const baseline = benchmark.baseline && {
    name: `${benchmark.name}.${benchmark.baseline.name}`,
    figures: figures[1]!,
  };
  const rows = variants.map((variant, i): Measured => {
    const values = figures[i]!;
    const row: Measured = {
      name: variant.name === '' ? benchmark.name : `${benchmark.name}.${variant.name}`,
      value: median(values),
      unit: benchmark.unit,
      spread: spreadOf(values),
      figures: values,
      scale: scales[i]!,
    };
    if (baseline === undefined || i === 1) return row;
    const ratios = values.map((v, round) => v / baseline.figures[round]!);
    return { ...row, baseline: baseline.name, ratio: median(ratios), ratioSpread: spreadOf(ratios) };
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
