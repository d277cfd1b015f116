/**
 * Runs the benchmark suites (every `bench/*.bench.ts`, or those named on the command line), prints a table
 * and records the results in bench/results/latest.json. `npm run bench -- local` runs one suite;
 * `npm run bench -- local.oneway` one benchmark; `--verbose` prints every round's figure. Each round is
 * sized to last ~400 ms (`BENCH_ROUND_MS`: harness.ts). See bench/README.md.
 */
import { readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatValue, runBenchmark, type Benchmark, type Measured, type Result, type Suite } from './harness';

const SUFFIX = '.bench.ts';
const RESULTS = join(__dirname, 'results', 'latest.json');

/** Every suite file, loaded (and so compiled) before anything is measured. */
function loadSuites(): Suite[] {
  return readdirSync(__dirname)
    .filter((file) => file.endsWith(SUFFIX))
    .sort()
    .map((file) => {
      const { suite } = require(join(__dirname, file)) as { suite?: Suite }; // eslint-disable-line @typescript-eslint/no-require-imports -- files found at run time
      const name = file.slice(0, -SUFFIX.length);
      if (suite?.name !== name) throw new Error(`bench/${file} must export \`suite\` named '${name}'`);
      return suite;
    });
}

/** The benchmarks the arguments select: a suite's name selects all of it, a benchmark's name just that one. */
function select(suites: readonly Suite[], args: readonly string[]): Benchmark[] {
  const all = suites.flatMap((suite) => suite.benchmarks);
  if (args.length === 0) return all;
  const chosen = all.filter((b) => args.some((arg) => b.name === arg || b.name.startsWith(`${arg}.`)));
  const unknown = args.filter((arg) => !all.some((b) => b.name === arg || b.name.startsWith(`${arg}.`)));
  if (unknown.length > 0) {
    const names = suites.map((s) => `${s.name} (${s.benchmarks.map((b) => b.name).join(', ')})`);
    console.error(`no benchmark matches ${unknown.join(', ')}; there are: ${names.join('; ')}`);
    process.exit(2);
  }
  return chosen;
}

function printTable(rows: readonly Measured[]): void {
  const header = ['name', 'value', 'unit', 'spread', 'r.spread', 'baseline', 'ratio', 'goals'];
  const percent = (fraction: number | undefined): string =>
    fraction === undefined ? '' : `${(fraction * 100).toFixed(0)}%`;
  const cells = rows.map((row) => {
    const baseline = rows.find((other) => other.name === row.baseline);
    return [
      row.name,
      formatValue(row.value),
      row.unit,
      percent(row.spread),
      percent(row.ratioSpread),
      baseline ? `${baseline.name} ${formatValue(baseline.value)}` : '',
      row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}x`,
      row.goals ?? '',
    ];
  });
  const numeric = new Set([1, 3, 4, 6]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]): string =>
    c
      .map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const c of cells) console.log(line(c));
}

/** Replaces the rows of the benchmarks that ran and keeps the others, so a partial run loses nothing. */
function record(ran: readonly Benchmark[], rows: readonly Measured[]): void {
  let previous: Result[] = [];
  try {
    previous = JSON.parse(readFileSync(RESULTS, 'utf8')) as Result[];
  } catch {
    // no previous results: start afresh
  }
  const replaced = (name: string): boolean =>
    ran.some((b) => name === b.name || name.startsWith(`${b.name}.`));
  const results: Result[] = [
    ...previous.filter((row) => !replaced(row.name)),
    ...rows.map(({ name, value, unit, spread, baseline, ratio, ratioSpread }) => ({
      name,
      value,
      unit,
      spread,
      baseline,
      ratio,
      ratioSpread,
    })),
  ].sort((a, b) => a.name.localeCompare(b.name));
  const tmp = `${RESULTS}.tmp`;
  writeFileSync(tmp, JSON.stringify(results, null, 2) + '\n');
  renameSync(tmp, RESULTS);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const verbose = args.includes('--verbose');
  const suites = loadSuites();
  const benchmarks = select(
    suites,
    args.filter((arg) => arg !== '--verbose'),
  );
  const rows: Measured[] = [];
  const seconds = (since: number): string => `${((performance.now() - since) / 1000).toFixed(1)} s`;
  for (const suite of suites) {
    const chosen = suite.benchmarks.filter((benchmark) => benchmarks.includes(benchmark));
    if (chosen.length === 0) continue;
    if (suite.setup !== undefined) {
      const started = performance.now();
      await suite.setup();
      console.error(`${suite.name} setup: ${seconds(started)}`);
    }
    try {
      for (const benchmark of chosen) {
        const started = performance.now();
        const measured = await runBenchmark(benchmark);
        rows.push(...measured);
        if (verbose) {
          for (const row of measured)
            console.error(`  ${row.name}: ${row.figures.map(formatValue).join(' ')}`);
        }
        const scales = measured.map((row) => `x${row.scale}`).join(' ');
        console.error(`${benchmark.name}: ${seconds(started)} (work per round ${scales})`);
      }
    } finally {
      await suite.teardown?.();
    }
  }
  printTable(rows);
  record(benchmarks, rows);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
