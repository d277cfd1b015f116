/**
 * Bob of the hub benchmarks (examples/bob.ts without decorators): connects out to the hub given as argument,
 * registers a forwarder there to his secure channel listener, and serves two workers that accept only
 * messages that came through a secure channel: `echoer` sends every body back, `sink` counts the bytes of
 * byte bodies and answers a text body (`flush`) with the count so far, then starts again from zero.
 * Prints `ready <forwarding address>`. Command: `cache on|off` (the binding cache, see binding-cache.ts).
 */
import {
  RemoteForwarder,
  TCP,
  TrustEveryone,
  createSecureChannelListener,
  fromSecureChannel,
  route,
  type Context,
  type Routed,
} from '../../src';
import { startTcpNode } from '../../reliability/lib/tcp-node';
import { useBindingCache } from '../binding-cache';
import { runProgram, serveCommands } from './command-loop';

runProgram(async () => {
  const hub = process.argv[2]!;
  const { node, ctx, identity: bob } = await startTcpNode('bob');
  await createSecureChannelListener(ctx, bob, 'listener', { trustPolicy: TrustEveryone });
  const access = fromSecureChannel();
  await node.startWorker(
    'echoer',
    { handleMessage: (c: Context, msg: Routed) => c.send(msg.returnRoute, msg.body) },
    { access },
  );
  let received = 0;
  await node.startWorker(
    'sink',
    {
      handleMessage(c: Context, msg: Routed) {
        if (msg.body instanceof Uint8Array) {
          received += msg.body.length;
          return undefined;
        }
        const count = received;
        received = 0;
        return c.send(msg.returnRoute, count);
      },
    },
    { access },
  );
  const forwarder = await RemoteForwarder.create(ctx, route([TCP, hub]), 'listener');
  serveCommands(
    [forwarder.forwardingAddress],
    {
      cache(args) {
        useBindingCache(args[0] !== 'off');
        return args[0] ?? 'on';
      },
    },
    () => node.stop(),
  );
});
