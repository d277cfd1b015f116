/**
 * Bob of the portal benchmarks (examples/portal-outlet.ts without decorators): connects out to the hub
 * (first argument), registers a forwarder to his secure channel listener, and runs one outlet per target
 * port given after it, named `t0`, `t1`, ... Prints `ready <forwarding address>`.
 */
import {
  RemoteForwarder,
  TCP,
  TrustAnyIdentity,
  createSecureChannelListener,
  createTcpOutlet,
  route,
} from '../../src';
import { startTcpNode } from '../../reliability/lib/tcp-node';
import { runProgram, serveCommands } from './command-loop';

/** `BENCH_PORTAL_WINDOW=<bytes>` tries another window than the default (PORTAL_DEFAULTS.windowBytes). */
const windowBytes =
  process.env.BENCH_PORTAL_WINDOW === undefined ? undefined : Number(process.env.BENCH_PORTAL_WINDOW);

runProgram(async () => {
  const [hub, ...targets] = process.argv.slice(2) as [string, ...string[]];
  const { node, ctx, identity: bob } = await startTcpNode('bob');
  await createSecureChannelListener(ctx, bob, 'listener', { trustPolicy: TrustAnyIdentity });
  for (const [i, port] of targets.entries()) {
    await createTcpOutlet(ctx, `t${i}`, `127.0.0.1:${port}`, { access: TrustAnyIdentity, windowBytes });
  }
  const forwarder = await RemoteForwarder.create(ctx, route([TCP, hub]), 'listener');
  serveCommands([forwarder.forwardingAddress], {}, () => node.stop());
});
