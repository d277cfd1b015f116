/**
 * How much slower than an idle machine this one runs now, so that tests wait for events with budgets that
 * a busy machine still meets. A fixed 30 s budget that an idle 2-core machine meets in 10 s is missed when
 * seven other processes share those cores; the test was right and the machine was slow.
 *
 * The measure: a short CPU-bound loop, its wall-clock time divided by the CPU time it got. On an idle core
 * the two are equal; when other processes compete for the cores, the loop waits for its turns and the ratio
 * grows with the contention. It needs no reference machine. Measured once per Jest run by the global setup
 * (test/setup/global-setup.ts), handed to the workers in `SEALROUTE_TEST_SLOWDOWN` (which a user may also
 * set by hand, for example to 4 on a machine known to be slow in ways the loop does not see), and measured
 * again, briefly, at the start of each test file: the load of a shared machine changes within a run, and
 * the larger of the two readings wins.
 */

/** The environment variable that carries the factor from the global setup (or a user) to the tests. */
export const SLOWDOWN_ENV = 'SEALROUTE_TEST_SLOWDOWN';

/** The factor is clamped to this range: a wildly high reading must not turn a hang into an hour's wait. */
const MIN = 1;
const MAX = 8;

/** Wall-clock time over CPU time of a loop that burns `cpuMs` of CPU. */
export function measureSlowdown(cpuMs = 200): number {
  const startWall = process.hrtime.bigint();
  const startCpu = process.cpuUsage();
  const cpuUsed = (): number => {
    const { user, system } = process.cpuUsage(startCpu);
    return (user + system) / 1_000;
  };
  let sink = 0;
  while (cpuUsed() < cpuMs) {
    for (let i = 0; i < 100_000; i++) sink += Math.sqrt(i);
  }
  const wallMs = Number(process.hrtime.bigint() - startWall) / 1e6;
  if (sink < 0) throw new Error('unreachable'); // keeps the loop from being optimised away
  return clamp(wallMs / cpuUsed());
}

function clamp(factor: number): number {
  return Number.isFinite(factor) ? Math.min(MAX, Math.max(MIN, factor)) : MIN;
}

let cached: number | undefined;

/**
 * The slowdown factor for this test file: the larger of `SEALROUTE_TEST_SLOWDOWN` (the run's, or a user's)
 * and a short measurement made here, once per file (Jest gives each file its own module registry).
 */
export function slowdown(): number {
  if (cached === undefined) {
    const given = Number(process.env[SLOWDOWN_ENV]);
    const measured = measureSlowdown(100);
    cached =
      process.env[SLOWDOWN_ENV] !== undefined && given > 0 ? Math.max(clamp(given), measured) : measured;
  }
  return cached;
}

/**
 * `ms` scaled by the slowdown factor: for budgets that bound how long an expected event may take (a
 * process starting, a handshake, a test as a whole). Never for a timeout whose expiry is what a test checks.
 */
export function scaled(ms: number): number {
  return Math.ceil(ms * slowdown());
}
