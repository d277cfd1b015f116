/**
 * Timer helpers that run in Node and in a browser alike: Node's timers can be unref'd and refreshed in
 * place, a browser's are plain numbers; `process.nextTick` and `setImmediate` exist only in Node.
 */

/** A timer handle of either world. */
export type Timer = ReturnType<typeof setTimeout>;

/** Lets the process exit while the timer is pending (a no-op in a browser). */
export function unref<T extends Timer | ReturnType<typeof setInterval>>(timer: T): T {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}

const runtime = globalThis as {
  process?: { nextTick?: (fn: () => void) => void };
  setImmediate?: (fn: () => void) => unknown;
};

/** Runs `fn` after the current operation, before I/O: `process.nextTick`, or a microtask in a browser. */
export const nextTick: (fn: () => void) => void =
  typeof runtime.process?.nextTick === 'function'
    ? runtime.process.nextTick.bind(runtime.process)
    : (fn) => queueMicrotask(fn);

/** Runs `fn` after pending I/O: `setImmediate`, or a zero timeout in a browser. */
export const setImmediateish: (fn: () => void) => void =
  typeof runtime.setImmediate === 'function'
    ? (fn) => void runtime.setImmediate!(fn)
    : (fn) => void setTimeout(fn, 0);

/** Restarts `timer` in place where the runtime can (Node), or replaces it with a new one; returns the live one. */
export function refresh(timer: Timer, ms: number, fire: () => void): Timer {
  const node = timer as { refresh?: () => unknown };
  if (typeof node.refresh === 'function') {
    node.refresh();
    return timer;
  }
  clearTimeout(timer);
  return setTimeout(fire, ms);
}
