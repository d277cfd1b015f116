/**
 * Alice of the portal benchmarks (examples/portal-inlet.ts without decorators): opens a secure channel to
 * Bob through the hub (`<hub host:port> <Bob's forwarding address> <outlets>`) and runs one inlet per outlet
 * (`t0`, `t1`, ...) on a free port. Prints `ready <inlet port per outlet>`.
 */
import { TCP, TrustAnyIdentity, createSecureChannel, createTcpInlet, route } from '../../src';
import { startTcpNode } from '../../reliability/lib/tcp-node';
import { runProgram, serveCommands } from './command-loop';

/** `BENCH_PORTAL_WINDOW=<bytes>` tries another window than the default (PORTAL_DEFAULTS.windowBytes). */
const windowBytes =
  process.env.BENCH_PORTAL_WINDOW === undefined ? undefined : Number(process.env.BENCH_PORTAL_WINDOW);

runProgram(async () => {
  const [hub, forwardingAddress, outlets] = process.argv.slice(2) as [string, string, string];
  const { node, ctx, identity: alice } = await startTcpNode('alice');
  const channel = await createSecureChannel(ctx, alice, route([TCP, hub], forwardingAddress), {
    trustPolicy: TrustAnyIdentity,
  });
  const inlets = [];
  for (let i = 0; i < Number(outlets); i++) {
    inlets.push(await createTcpInlet(ctx, '127.0.0.1:0', route(channel, `t${i}`), { windowBytes }));
  }
  serveCommands(
    inlets.map((inlet) => inlet.address.split(':')[1]!),
    {},
    () => node.stop(),
  );
});
