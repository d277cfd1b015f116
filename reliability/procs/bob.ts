/**
 * Bob of the reliability programs (examples/bob.ts without decorators): connects out to the hub, registers
 * a forwarder there that leads to his secure channel listener, and serves, to secure channels only, an
 * `echoer` and a `sink` that checks numbered messages (lib/numbered.ts). Prints
 * `ready {"forwardingAddress"}`.
 *
 * Options: `--hub host:port`; `--name n` (a named forwarder, `fwd.n.<n>`, taken back by its token after a reconnect);
 * `--extra-forwarders k` (k more forwarders, so the hub has something to free when Bob dies);
 * `--heartbeat-ms` and `--reconnect-max-ms` (how fast he notices a lost hub and comes back).
 * Commands: `sample`, `seen` (the sink's record), `censusStart`, `censusDiff`.
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
import { tallyCommands } from '../lib/drop-tally';
import { censusCommands, sampleNode } from '../lib/node-sample';
import { Sink } from '../lib/numbered';
import { startTcpNode } from '../lib/tcp-node';
import { childLogger, numberOption, options, runChild, serve } from './serve';

runChild(async () => {
  const args = options({
    hub: { type: 'string' },
    name: { type: 'string' },
    'extra-forwarders': { type: 'string' },
    'heartbeat-ms': { type: 'string' },
    'reconnect-max-ms': { type: 'string' },
  });
  if (args.hub === undefined) throw new Error('--hub host:port is required');
  const { node, ctx, tcp, identity } = await startTcpNode('bob', { logger: childLogger() });
  const listener = await createSecureChannelListener(ctx, identity, 'listener', {
    trustPolicy: TrustEveryone,
    maxChannelsPerIdentity: 1 << 20, // the scale run opens its 10,000 channels from one identity
    // ... and 32 handshakes at once per client process, all through one hub connection (one source)
    maxPendingHandshakesPerSource: 256,
  });
  const access = fromSecureChannel();
  await node.startWorker(
    'echoer',
    { handleMessage: (c: Context, msg: Routed) => c.send(msg.returnRoute, msg.body) },
    { access },
  );
  const sink = await Sink.start(node, 'sink', access);
  const hub = route([TCP, args.hub]);
  const forwarderOptions = {
    heartbeatIntervalMs: numberOption(args['heartbeat-ms'], 5_000),
    heartbeatTimeoutMs: numberOption(args['heartbeat-ms'], 5_000),
    reconnectMaxMs: numberOption(args['reconnect-max-ms'], 10_000),
  };
  const forwarder = await RemoteForwarder.create(ctx, hub, 'listener', {
    name: args.name,
    ...forwarderOptions,
  });
  let registrations = 0;
  forwarder.on('registered', () => registrations++);
  const extra = numberOption(args['extra-forwarders'], 0);
  const extras: RemoteForwarder[] = [];
  for (let i = 0; i < extra; i += 50) {
    const batch = Array.from({ length: Math.min(50, extra - i) }, () =>
      RemoteForwarder.create(ctx, hub, 'listener', { heartbeatIntervalMs: 3_600_000 }),
    );
    extras.push(...(await Promise.all(batch)));
  }

  serve(
    { forwardingAddress: forwarder.forwardingAddress },
    {
      sample: async () => ({
        ...(await sampleNode(node)),
        connections: tcp.connections().length,
        channels: listener.channels.size,
        listenerStats: listener.stats,
        sink: sink.counts,
        registered: forwarder.isRegistered,
        reRegistrations: registrations,
        forwardingAddress: forwarder.forwardingAddress,
      }),
      seen: () => ({ ...sink.counts, bitmap: sink.seen.toBase64() }),
      ...censusCommands(),
      ...tallyCommands(node),
    },
    () => node.stop(),
  );
});
