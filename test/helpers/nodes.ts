import { NodeRuntime, silentLogger, type NodeOptions } from '../../src';

const started: NodeRuntime[] = [];

/** A node with a silent logger (unless one is given), stopped by `stopNodes` after the test. */
export function newNode(options: NodeOptions = {}): NodeRuntime {
  const node = new NodeRuntime({ logger: silentLogger, ...options });
  started.push(node);
  return node;
}

/** Stops every node made by `newNode`; call it from `afterEach`. */
export async function stopNodes(): Promise<void> {
  await Promise.all(started.splice(0).map((node) => node.stop()));
}
