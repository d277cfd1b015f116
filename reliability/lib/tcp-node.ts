/**
 * How each process of the reliability programs and the benchmarks starts its node: a runtime with a TCP
 * transport, a context, and a fresh identity in an in-memory vault. One place, so that a change to how a
 * node is assembled reaches every program. bench/procs use it too (bench/procs/spawn.ts transpiles this
 * folder with theirs); reliability/tsconfig.json does not include bench/, so it lives here.
 */
import {
  Identity,
  InMemoryVault,
  NodeRuntime,
  TcpTransport,
  silentLogger,
  type Context,
  type Logger,
  type TcpTransportOptions,
} from '../../src';

/** A started node with its TCP transport, a context named after the program and its identity. */
export interface TcpNode {
  readonly node: NodeRuntime;
  readonly ctx: Context;
  readonly tcp: TcpTransport;
  readonly identity: Identity;
}

/** Starts a node whose context is `name`; silent unless `logger` says otherwise. */
export async function startTcpNode(
  name: string,
  options: { logger?: Logger; tcp?: TcpTransportOptions } = {},
): Promise<TcpNode> {
  const node = new NodeRuntime({ logger: options.logger ?? silentLogger });
  const ctx = node.context(name);
  const tcp = await TcpTransport.create(node, options.tcp);
  const identity = await Identity.create(await InMemoryVault.create());
  return { node, ctx, tcp, identity };
}
