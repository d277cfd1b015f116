/**
 * Bob of the portal benchmarks (examples/portal-outlet.ts without decorators): connects out to the hub
 * (first argument), registers a forwarder to his secure channel listener, and runs one outlet per target
 * port given after it, named `t0`, `t1`, ... Prints `ready <forwarding address>`.
 */
import {
  Identity,
  InMemoryVault,
  NodeRuntime,
  RemoteForwarder,
  TCP,
  TcpTransport,
  TrustAnyIdentity,
  createSecureChannelListener,
  createTcpOutlet,
  route,
  silentLogger,
} from '../../src';
import { runProgram, serveCommands } from './command-loop';

/** `BENCH_PORTAL_WINDOW=<bytes>` tries another window than the default (PORTAL_DEFAULTS.windowBytes). */
const windowBytes =
  process.env.BENCH_PORTAL_WINDOW === undefined ? undefined : Number(process.env.BENCH_PORTAL_WINDOW);

runProgram(async () => {
  const [hub, ...targets] = process.argv.slice(2) as [string, ...string[]];
  const node = new NodeRuntime({ logger: silentLogger });
  const ctx = node.context('bob');
  await TcpTransport.create(node);
  const bob = await Identity.create(await InMemoryVault.create());
  await createSecureChannelListener(ctx, bob, 'listener', { trustPolicy: TrustAnyIdentity });
  for (const [i, port] of targets.entries()) {
    await createTcpOutlet(ctx, `t${i}`, `127.0.0.1:${port}`, { access: TrustAnyIdentity, windowBytes });
  }
  const forwarder = await RemoteForwarder.create(ctx, route([TCP, hub]), 'listener');
  serveCommands([forwarder.forwardingAddress], {}, () => node.stop());
});
