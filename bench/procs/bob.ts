/**
 * Bob of the hub benchmarks (examples/bob.ts without decorators): connects out to the hub given as argument,
 * registers a forwarder there to his secure channel listener, and serves two workers that accept only
 * messages that came through a secure channel: `echoer` sends every body back, `sink` counts the bytes of
 * byte bodies and answers a text body (`count`) with the bytes counted since it started (a request that
 * can be asked again, unlike one that starts the count again).
 * With a second argument, the hub is federated (bench/procs/hub.ts `nats`) and Bob registers that name, bound
 * to his identity (`FailoverForwarder`), so that any hub of the federation reaches him at `fwd.n.<name>`.
 * Prints `ready <forwarding address>`. Commands: `cache on|off` (the binding cache, see binding-cache.ts);
 * `drops`, the frames his channels reported missing or dropped (see `SecureChannelStats`).
 */
import {
  FailoverForwarder,
  RemoteForwarder,
  TCP,
  TrustEveryone,
  createSecureChannelListener,
  fromSecureChannel,
  route,
  type Context,
  type Routed,
  type SecureChannel,
  type SecureChannelStats,
} from '../../src';
import { startTcpNode } from '../../reliability/lib/tcp-node';
import { useBindingCache } from '../binding-cache';
import { runProgram, serveCommands } from './command-loop';

runProgram(async () => {
  const [hub, name] = process.argv.slice(2) as [string, string | undefined];
  const { node, ctx, identity: bob } = await startTcpNode('bob');
  const listener = await createSecureChannelListener(ctx, bob, 'listener', { trustPolicy: TrustEveryone });
  // What his channels reported missing or dropped: the open ones read when asked, the closed ones summed.
  const open = new Set<SecureChannel>();
  const missing = { gaps: 0, frames: 0 };
  const dropped: Record<string, number> = {};
  const add = (stats: SecureChannelStats, into = { missing, dropped }) => {
    into.missing.gaps += stats.missing.gaps;
    into.missing.frames += stats.missing.frames;
    for (const [reason, n] of Object.entries(stats.dropped))
      into.dropped[reason] = (into.dropped[reason] ?? 0) + n;
    return into;
  };
  listener.on('channelOpened', (channel) => {
    open.add(channel);
    void channel.closed().then(() => {
      open.delete(channel);
      add(channel.stats);
    });
  });
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
        return c.send(msg.returnRoute, received);
      },
    },
    { access },
  );
  const forwarder =
    name === undefined
      ? await RemoteForwarder.create(ctx, route([TCP, hub]), 'listener')
      : await FailoverForwarder.create(ctx, [hub], 'listener', {
          name,
          identity: bob,
          deliverTo: ['listener'],
        });
  serveCommands(
    [forwarder.forwardingAddress],
    {
      drops() {
        const total = { missing: { ...missing }, dropped: { ...dropped } };
        for (const channel of open) add(channel.stats, total);
        return JSON.stringify(total);
      },
      cache(args) {
        useBindingCache(args[0] !== 'off');
        return args[0] ?? 'on';
      },
    },
    () => node.stop(),
  );
});
