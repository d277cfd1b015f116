import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { scaled } from './slowdown';

/** A promise with its resolve and reject exposed, for gating handlers in tests. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves after the current macrotask: every pending microtask (local deliveries, handlers) has run. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Rejects when `promise` has not settled within `ms` (scaled by the machine's measured slowdown, see
 * slowdown.ts), so a hung runtime fails the test instead of Jest, and a busy machine does not.
 */
export async function within<T>(promise: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const budget = scaled(ms);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${budget} ms`)), budget);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` once per event-loop turn until it holds; throws after `timeoutMs` (scaled). */
export async function waitFor(
  condition: () => boolean,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const budget = scaled(timeoutMs);
  const deadline = Date.now() + budget;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${budget} ms`);
    await nextTurn();
  }
}

/** Anything with `on`/`off` listeners: Node's and eventemitter3's emitters alike. */
export interface Listenable {
  on(...args: never[]): unknown;
  off(...args: never[]): unknown;
}

/** The untyped view of a `Listenable` that `until` attaches its listener through. */
interface Untyped {
  on(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
}

/**
 * Resolves once `condition` holds, checking it now and again after each `event` of `emitter` (no polling:
 * for state that only an event changes); rejects after `timeoutMs` (scaled), saying `what` was awaited.
 */
export function until(
  emitter: Listenable,
  event: string,
  condition: () => boolean,
  timeoutMs = 5_000,
  what = `${event} until the condition holds`,
): Promise<void> {
  return untilAny([[emitter, event]], condition, timeoutMs, what);
}

/** Like `until`, checking `condition` after an event of any of `sources` (emitter and event name). */
export function untilAny(
  sources: readonly (readonly [Listenable, string])[],
  condition: () => boolean,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  if (condition()) return Promise.resolve();
  const budget = scaled(timeoutMs);
  return new Promise<void>((resolve, reject) => {
    const detach = (): void => {
      clearTimeout(timer);
      for (const [emitter, event] of sources) (emitter as Untyped).off(event, check);
    };
    const check = (): void => {
      if (!condition()) return;
      detach();
      resolve();
    };
    const timer = setTimeout(() => {
      detach();
      reject(new Error(`${what} did not hold within ${budget} ms`));
    }, budget);
    for (const [emitter, event] of sources) (emitter as Untyped).on(event, check);
  });
}

/** Reports whether `promise` is still pending after the event loop has had a turn. */
export async function isPending(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await nextTurn();
  return !settled;
}

let gcFunction: (() => void) | undefined;

/**
 * A full garbage collection, so heap measurements compare live data rather than garbage. Jest does not
 * start Node with --expose-gc, so the flag is set at run time and `gc` is taken from a fresh V8 context.
 */
export function collectGarbage(): void {
  if (gcFunction === undefined) {
    setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as () => void;
  }
  gcFunction();
}
