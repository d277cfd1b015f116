import { createHook } from 'node:async_hooks';
import { resolve } from 'node:path';
import { nextTurn } from './async';

/** The runtime's sources: only resources created from here count as the runtime's. */
export const SRC_DIR = resolve(__dirname, '..', '..', 'src');

interface Tracked {
  readonly type: string;
  readonly resource: { hasRef?: () => boolean };
  readonly createdAt: string;
}

/** Tracks async resources that code under `SRC_DIR` creates, to find the ones it leaves open. */
export interface ResourceTracker {
  /**
   * Stops tracking and lists the resources created since `trackResources()` that are still open and keep
   * the process alive (unref'd timers do not), each with the source line that created it.
   */
  leaks(): Promise<string[]>;
}

/**
 * Starts tracking timers and handles (by async_hooks type, default `Timeout`, `Immediate` and every
 * `*WRAP` handle) created by the runtime. Unlike `process.getActiveResourcesInfo()`, this ignores the
 * test runner's own timers, so it finds one leaked timer among many.
 */
export function trackResources(types: (type: string) => boolean = defaultTypes): ResourceTracker {
  const live = new Map<number, Tracked>();
  const hook = createHook({
    init(asyncId, type, _trigger, resource) {
      if (!types(type)) return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const stack = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      const createdAt = stack.split('\n').find((line) => line.includes(SRC_DIR));
      if (createdAt !== undefined) {
        live.set(asyncId, { type, resource: resource as Tracked['resource'], createdAt: createdAt.trim() });
      }
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  }).enable();
  return {
    async leaks() {
      // Destroy hooks of cleared timers and closed handles run asynchronously.
      await nextTurn();
      await nextTurn();
      hook.disable();
      return [...live.values()]
        .filter(({ resource }) => typeof resource.hasRef !== 'function' || resource.hasRef())
        .map(({ type, createdAt }) => `${type} ${createdAt}`);
    },
  };
}

function defaultTypes(type: string): boolean {
  return type === 'Timeout' || type === 'Immediate' || type.endsWith('WRAP');
}
