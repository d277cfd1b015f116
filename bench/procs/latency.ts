/** Round-trip latency figures of the benchmark programs (`latency <n> <p>` commands). */

/** The latencies (µs) of `n` sequential calls of `roundTrip`. */
export async function latencies(n: number, roundTrip: () => Promise<void>): Promise<number[]> {
  const micros: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    await roundTrip();
    micros.push(Number(process.hrtime.bigint() - start) / 1_000);
  }
  return micros;
}

/** The `p`-th percentile (0 < p <= 100) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * The percentile `p` (a command's argument) of `micros` as its inverse (per second: higher is better, like
 * every figure).
 */
export function inversePercentile(micros: readonly number[], p: string | undefined): number {
  const q = Number(p);
  if (!(q > 0 && q <= 100)) throw new Error(`a percentile in (0, 100], not ${p}`);
  return 1e6 / percentile(micros, q);
}
