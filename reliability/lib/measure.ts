/**
 * Measurements the reliability programs and tests share: live heap after a full collection, and the
 * process's handles by kind. Works with `--expose-gc` (the programs' children) and without it (Jest, where
 * the flag is set at run time and `gc` is taken from a fresh V8 context).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** What a process holds at one moment, after a full collection. */
export interface MemorySample {
  /** V8 heap in use (live JavaScript objects). */
  readonly heapUsed: number;
  /** Backing stores of ArrayBuffers and Buffers (message bodies, keys). */
  readonly arrayBuffers: number;
  readonly rss: number;
  /** `process.getActiveResourcesInfo()` counted by kind (`TCPSocketWrap`, `Timeout`, ...). */
  readonly handles: Record<string, number>;
}

let gcFunction: (() => void) | undefined;

/** A full, synchronous garbage collection. */
export function collectGarbage(): void {
  if (gcFunction === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed !== undefined) {
      gcFunction = exposed;
    } else {
      setFlagsFromString('--expose-gc');
      gcFunction = runInNewContext('gc') as () => void;
    }
  }
  gcFunction();
}

/** Handles and requests that keep the event loop alive, counted by kind. */
export function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/**
 * Memory and handles once garbage is gone: three collections, each after a turn of the event loop, so
 * that objects released by pending callbacks (closed sockets, settled promises) are gone too.
 */
export async function settledSample(): Promise<MemorySample> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
  }
  const usage = process.memoryUsage();
  return {
    heapUsed: usage.heapUsed,
    arrayBuffers: usage.arrayBuffers,
    rss: usage.rss,
    handles: handleCounts(),
  };
}

/** Handle kinds whose count must come back: everything but timers and immediates, which come and go. */
export function lastingHandles(handles: Record<string, number>): Record<string, number> {
  const lasting: Record<string, number> = {};
  for (const [kind, count] of Object.entries(handles)) {
    if (kind !== 'Timeout' && kind !== 'Immediate') lasting[kind] = count;
  }
  return lasting;
}

/** The kinds whose counts differ between two handle counts, as `kind: before -> after`. */
export function handleChanges(before: Record<string, number>, after: Record<string, number>): string[] {
  const kinds = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...kinds]
    .filter((kind) => (before[kind] ?? 0) !== (after[kind] ?? 0))
    .map((kind) => `${kind}: ${before[kind] ?? 0} -> ${after[kind] ?? 0}`);
}

/** Bytes as MiB with two decimals, signed when asked (a growth). */
export function mib(bytes: number, signed = false): string {
  const text = `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
  return signed && bytes >= 0 ? `+${text}` : text;
}

/** Bytes as KiB with two decimals. */
export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(2)} KiB`;
}
