/**
 * What the hub and Bob of a multi-process suite counted as dropped or missing (their `drops` commands), added
 * to the error of a round that failed: a bulk round whose count came up short then says where the messages
 * went, or that nobody counted them, which would be a silent loss (a bug), not the load.
 */
import type { Round } from './harness';
import type { BenchProcess } from './procs/spawn';

interface HubDrops {
  readonly deadLetters: number;
  readonly queueBytesRefused: number;
  readonly notices: { readonly sent: number; readonly rateLimited: number };
}

interface BobDrops {
  readonly missing: { readonly gaps: number; readonly frames: number };
  readonly dropped: Readonly<Record<string, number>>;
}

async function drops<T>(process: BenchProcess): Promise<T> {
  return JSON.parse((await process.command('drops')).join(' ')) as T;
}

/** The counters of `hub` and `bob`, in words (since the processes started). */
export async function countedDrops(hub: BenchProcess, bob: BenchProcess): Promise<string> {
  const [h, b] = await Promise.all([drops<HubDrops>(hub), drops<BobDrops>(bob)]);
  const dropped = Object.entries(b.dropped).filter(([, n]) => n > 0);
  const counted = h.deadLetters + b.missing.frames + dropped.reduce((sum, [, n]) => sum + n, 0);
  const words =
    `counted since the processes started: the hub ${h.deadLetters} dead letters, of which ` +
    `${h.queueBytesRefused} frames refused toward a full connection queue (CONGESTED; ` +
    `${h.notices.sent} notices sent, ${h.notices.rateLimited} rate-limited); Bob's channels ` +
    `${b.missing.frames} frames missing (${b.missing.gaps} gaps)` +
    (dropped.length === 0 ? '' : `, dropped ${dropped.map(([why, n]) => `${n} ${why}`).join(', ')}`);
  return counted === 0 ? `${words}: NOTHING COUNTED, a silent loss` : words;
}

/** `round`, whose error (if it fails) also says what `hub` and `bob` counted (see `countedDrops`). */
export function reportingDrops(
  round: Round,
  processes: () => { hub: BenchProcess; bob: BenchProcess },
): Round {
  return async (run) => {
    try {
      return await round(run);
    } catch (error) {
      const { hub, bob } = processes();
      const counted = await countedDrops(hub, bob).catch((e: unknown) => `(no counters: ${String(e)})`);
      throw new Error(`${(error as Error).message}\n${counted}`, { cause: error });
    }
  };
}
