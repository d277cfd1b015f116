// Loaded here, before tsyringe, so that no user ever has to remember it (tsyringe throws without it).
import 'reflect-metadata';
import { injectable } from 'tsyringe';
import type { WorkerOptions } from '../node/worker';
import type { Worker as WorkerShape } from '../node/worker';
import { DiError } from './errors';

const WORKER_METADATA = Symbol.for('sealroute:worker');
const NODE_METADATA = Symbol.for('sealroute:node');

/** What `@Worker()` records: the worker's options plus its default address(es). */
export interface WorkerDecoratorOptions<T = unknown> extends WorkerOptions<T> {
  /** The address(es) the worker starts at when none is given to `startWorker`. */
  readonly address?: string | readonly string[];
}

/** A class whose instances are workers. */
export type WorkerClass<T = unknown> = new (...args: never[]) => WorkerShape<T>;

/** What `@Node()` records. */
export interface NodeDecoratorOptions {
  /** Stop gracefully on SIGINT/SIGTERM. Default true. */
  readonly stopOnSignals?: boolean;
}

/** An application class run by `run()`: its `main` gets a context on a started node. */
export interface NodeApplication {
  main(ctx: import('../node/context').Context): void | Promise<void>;
}

/**
 * Marks a class as a worker that a node builds by dependency injection: its constructor parameters are
 * resolved from the node's container. Only records metadata; nothing starts until `ctx.startWorker(Class)`.
 */
export function Worker<T = unknown>(options: WorkerDecoratorOptions<T> = {}): ClassDecorator {
  return (target, ...rest: unknown[]) => {
    refuseStandardDecorators('@Worker()', target, rest[0]);
    injectable()(target as unknown as new (...args: unknown[]) => unknown);
    Reflect.defineMetadata(WORKER_METADATA, options, target);
  };
}

/** The worker contract, under the same name as its decorator: `@Worker() class E implements Worker<string>`. */
export type Worker<T = unknown> = WorkerShape<T>;

/** Marks an application class whose `main(ctx)` runs on a started node; run it with `run(Class)`. */
export function Node(options: NodeDecoratorOptions = {}): ClassDecorator {
  return (target, ...rest: unknown[]) => {
    refuseStandardDecorators('@Node()', target, rest[0]);
    injectable()(target as unknown as new (...args: unknown[]) => unknown);
    Reflect.defineMetadata(NODE_METADATA, options, target);
  };
}

/**
 * Fails at once, when the class is defined, if it was compiled with TypeScript's standard decorators (no
 * `experimentalDecorators`): they pass a context object as a second argument, and emit no parameter types,
 * so dependency injection could only fail later and less clearly.
 */
function refuseStandardDecorators(decorator: string, target: { name: string }, context: unknown): void {
  if (typeof context === 'object' && context !== null && (context as { kind?: unknown }).kind === 'class') {
    throw new DiError(
      'NO_PARAM_TYPES',
      `${decorator} on ${target.name} was compiled as a standard decorator: enable "experimentalDecorators" ` +
        'and "emitDecoratorMetadata" in tsconfig.json (dependency injection needs the constructor parameter ' +
        'types those emit)',
    );
  }
}

/** The options recorded by `@Worker()`, or undefined for an undecorated class. */
export function workerMetadata(target: object): WorkerDecoratorOptions | undefined {
  return Reflect.getMetadata(WORKER_METADATA, target) as WorkerDecoratorOptions | undefined;
}

/** The options recorded by `@Node()`, or undefined for an undecorated class. */
export function nodeMetadata(target: object): NodeDecoratorOptions | undefined {
  return Reflect.getMetadata(NODE_METADATA, target) as NodeDecoratorOptions | undefined;
}
