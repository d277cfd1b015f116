/**
 * CPU time per operation of each process a round's work crosses, recorded round by round and printed as
 * medians after a suite's table. The machines are shared, so the wall clock follows the load; the CPU each
 * process spent per operation does not, and on 2 cores it explains the wall-clock ratios.
 * `BENCH_CPU_BUDGET=1` also prints every round's figures (on stderr).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { median, type Round } from './harness';
import type { BenchProcess } from './procs/spawn';

/** A process whose CPU time (µs, user + system) can be read between rounds. */
export interface CpuMeter {
  readonly name: string;
  cpuMicros(): Promise<number> | number;
}

export class CpuPerOp {
  /** Per variant label: the processes' names, and one entry per measured round (warm-up left out). */
  private readonly variants = new Map<string, { names: string[]; rounds: number[][] }>();

  constructor(
    /** The heading printed above the medians. */
    private readonly title: string,
    /** Decimals shown: 0 for figures of tens of µs and more, 1 below. */
    private readonly digits = 0,
  ) {}

  /**
   * `round`, of `ops` operations at scale 1 (`ops * run.scale` at any scale), with the CPU time each of
   * `meters()` spent on it recorded under `label` unless it is a warm-up round. The readings are taken
   * outside the timed part (the round times itself).
   */
  metered(label: string, meters: () => readonly CpuMeter[], ops: number, round: Round): Round {
    return async (run) => {
      const on = meters();
      const before = await Promise.all(on.map((m) => m.cpuMicros()));
      const figure = await round(run);
      const after = await Promise.all(on.map((m) => m.cpuMicros()));
      const spent = on.map((_m, i) => (after[i]! - before[i]!) / (ops * run.scale));
      if (!run.warmUp) {
        let record = this.variants.get(label);
        if (record === undefined)
          this.variants.set(label, (record = { names: on.map((m) => m.name), rounds: [] }));
        record.rounds.push(spent);
      }
      if (process.env.BENCH_CPU_BUDGET !== undefined) {
        const shown = on.map((m, i) => `${m.name} ${spent[i]!.toFixed(this.digits)}`);
        console.error(`  ${label}: CPU us per operation: ${shown.join(', ')}`);
      }
      return figure;
    };
  }

  /** Prints the median per process and their total, per variant, and forgets them. */
  print(): void {
    if (this.variants.size === 0) return;
    console.log(`\n${this.title}`);
    for (const [label, { names, rounds }] of this.variants) {
      const medians = names.map((_, i) => median(rounds.map((r) => r[i]!)));
      const total = medians.reduce((a, b) => a + b, 0);
      const parts = names.map((name, i) => `${name} ${medians[i]!.toFixed(this.digits)}`).join(', ');
      console.log(`  ${label.padEnd(26)} ${parts}; total ${total.toFixed(this.digits)}`);
    }
    this.variants.clear();
  }
}

/** This process as a meter (the parties a suite runs in its own process). */
export function thisProcess(name = 'this process'): CpuMeter {
  return {
    name,
    cpuMicros: () => {
      const used = process.cpuUsage();
      return used.user + used.system;
    },
  };
}

/**
 * The CPU time (µs) a process that is not ours (nats-server) has used so far, summed over its threads from
 * /proc; 0 if unknown (not Linux, or the process is gone).
 */
export function cpuMicrosOfPid(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    let ns = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    }
    return ns / 1_000;
  } catch {
    return 0;
  }
}

/** A bench child as a meter: it answers `cpu` with its CPU time in µs (bench/procs/command-loop.ts). */
export function childMeter(child: BenchProcess, name = child.name): CpuMeter {
  return { name, cpuMicros: () => child.figure('cpu') };
}
