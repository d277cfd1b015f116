import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import {
  NodeRuntime,
  type NodeOptions,
  type WorkerConstructor,
  type BuiltWorker,
} from '../node/node-runtime';
import type { Logger } from '../node/logger';
import type { Context } from '../node/context';
import { nodeMetadata, workerMetadata, type NodeApplication } from './decorators';
import { SealrouteError } from '../core/errors';
import { DiError } from './errors';

/** Injection token of the node's logger (`@inject(LOGGER) logger: Logger`). */
export const LOGGER = Symbol.for('sealroute:logger');

/** Options of `createNode` and `run`. */
export interface CreateNodeOptions extends Omit<NodeOptions, 'workerFactory'> {
  /** The parent container; the node gets a child of it. Default: tsyringe's root container. */
  readonly container?: DependencyContainer;
}

/** A node with its own dependency container. */
export interface NodeWithContainer {
  readonly node: NodeRuntime;
  /** The node's child container: register node-scoped services here. */
  readonly container: DependencyContainer;
}

/**
 * Builds a class with the container, turning tsyringe's failures into errors that say what to do.
 */
function build<T>(container: DependencyContainer, target: new (...args: never[]) => T, role: string): T {
  const paramTypes = Reflect.getMetadata('design:paramtypes', target) as unknown[] | undefined;
  if (target.length > 0 && paramTypes === undefined) {
    throw new DiError(
      'NO_PARAM_TYPES',
      `${target.name} has constructor parameters but no type metadata: enable "experimentalDecorators" and ` +
        '"emitDecoratorMetadata" in tsconfig.json and compile with tsc, ts-node or ts-jest ' +
        '(esbuild and tsx drop decorator metadata)',
    );
  }
  try {
    return container.resolve(target as new (...args: unknown[]) => T);
  } catch (cause) {
    throw new DiError(
      'UNRESOLVED_DEPENDENCY',
      `cannot build ${role} ${target.name}: a constructor dependency is not resolvable. Mark the dependency's ` +
        'class @injectable() or @singleton(), or register it in the node container ' +
        '(never `import type` a class that is injected); a parameter typed by an interface or a primitive ' +
        `needs @inject(token) with that token registered. tsyringe said: ${(cause as Error).message}`,
      { cause },
    );
  }
}

/**
 * Creates a node whose `startWorker(Class)` builds `@Worker()` classes from a child container that
 * provides the `NodeRuntime` and its logger (`LOGGER`), plus everything the parent container provides.
 */
export function createNode(options: CreateNodeOptions = {}): NodeWithContainer {
  const container = (options.container ?? rootContainer).createChildContainer();
  const factory = (workerClass: WorkerConstructor): BuiltWorker => {
    const metadata = workerMetadata(workerClass);
    if (metadata === undefined) {
      throw new DiError(
        'NOT_DECORATED',
        `${workerClass.name} is not a worker class: decorate it with @Worker() (or start an instance with ` +
          'startWorker(address, new Worker()))',
      );
    }
    const { address, ...workerOptions } = metadata;
    const worker = build(
      container,
      workerClass as unknown as new (...args: never[]) => BuiltWorker['worker'],
      'worker',
    );
    const addresses = address === undefined ? [] : typeof address === 'string' ? [address] : address;
    return { worker, addresses, options: workerOptions };
  };
  const node = new NodeRuntime({ ...options, workerFactory: factory });
  container.registerInstance(NodeRuntime, node);
  container.registerInstance<Logger>(LOGGER, node.logger);
  return { node, container };
}

/**
 * Runs a `@Node()` application: creates a node, builds the class by injection, calls its `main` with a
 * context, and (by default) stops the node gracefully on Ctrl-C. The node keeps running after `main`
 * returns until something calls `ctx.stop()`. Resolves with the node once `main` has returned; on failure
 * it logs, prints one line for a person on standard error (`Alice failed: SecureChannelError UNTRUSTED:
 * ...`), stops the node and sets a non-zero exit code.
 */
export async function run(
  App: new (...args: never[]) => NodeApplication,
  options: CreateNodeOptions = {},
): Promise<NodeRuntime> {
  const metadata = nodeMetadata(App);
  if (metadata === undefined) {
    throw new DiError('NOT_DECORATED', `${App.name} is not an application class: decorate it with @Node()`);
  }
  const { node, container } = createNode(options);
  if (metadata.stopOnSignals ?? true) node.stopOnSignals();
  const ctx: Context = node.context('app');
  try {
    const app = build(container, App, 'application');
    await app.main(ctx);
  } catch (err) {
    node.logger.error({ err }, `${App.name}.main failed; stopping the node`);
    // The log line is for machines (and may be silenced); whoever runs the program reads this one.
    const why = err instanceof SealrouteError ? `${err.name} ${err.code}: ${err.message}` : String(err);
    process.stderr.write(`${App.name} failed: ${why}\n`);
    process.exitCode = 1;
    await node.stop();
  }
  return node;
}
