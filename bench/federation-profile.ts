/**
 * One variant of a federation benchmark, run alone after the suite's setup, with its CPU time per operation
 * (this process: every hub, Alice and Bob; and the nats-server process) and, with `--prof <dir>`, a CPU
 * profile of the rounds only (set-up left out):
 *
 *   npx ts-node bench/federation-profile.ts federation.rtt_64 [candidate|baseline|<comparison>] [rounds] [--prof <dir>]
 *
 * See bench/README.md (`federation.*`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { median } from './harness';
import { natsCpuMicros, operationsPerRound, suite } from './federation.bench';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const profAt = args.indexOf('--prof');
  const profDir = profAt >= 0 ? args.splice(profAt, 2)[1] : undefined;
  const [name = 'federation.rtt_64', variant = 'candidate', roundsArg = '5'] = args;
  const benchmark = suite.benchmarks.find((b) => b.name === name);
  if (benchmark === undefined) throw new Error(`no benchmark ${name}`);
  const round =
    variant === 'candidate'
      ? benchmark.candidate
      : variant === 'baseline'
        ? benchmark.baseline?.round
        : benchmark.comparisons?.find((c) => c.name === variant)?.round;
  if (round === undefined) throw new Error(`${name} has no ${variant}`);
  const ops = operationsPerRound(name);
  await suite.setup!();
  try {
    for (let i = 0; i < 2; i++) await round({ scale: 1, warmUp: true });
    const session = new Session();
    if (profDir !== undefined) {
      session.connect();
      await session.post('Profiler.setSamplingInterval', { interval: 100 });
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const figures: number[] = [];
    const cpu: number[] = [];
    const natsCpu: number[] = [];
    for (let i = 0; i < Number(roundsArg); i++) {
      const before = process.cpuUsage();
      const natsBefore = natsCpuMicros();
      figures.push(await round({ scale: 1, warmUp: false }));
      const used = process.cpuUsage(before);
      cpu.push((used.user + used.system) / ops);
      natsCpu.push((natsCpuMicros() - natsBefore) / ops);
    }
    if (profDir !== undefined) {
      const { profile } = await session.post('Profiler.stop');
      const file = join(profDir, `${name}.${variant}.${process.pid}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      console.log(`profile: ${file}`);
    }
    const f = (values: number[]): string => median(values).toFixed(0);
    console.log(
      `${name} ${variant}: median ${median(figures).toFixed(0)} ${benchmark.unit} over ${figures.length} rounds;` +
        ` CPU us per operation: this process ${f(cpu)}, nats-server ${f(natsCpu)}`,
    );
  } finally {
    await suite.teardown!();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
