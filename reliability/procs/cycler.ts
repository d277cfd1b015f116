/**
 * Connect/disconnect cycles against the hub, for the faults program: each cycle connects, registers a
 * forwarder, unregisters it and disconnects, on one of several nodes in this process (a node keeps one
 * connection per remote, so the lanes are what make cycles concurrent). Prints `ready {}`.
 * Options: `--hub host:port`, `--lanes n` (default 4).
 * Commands: `cycles [n]` (resolves when done), `progress`, `sample` (all lanes together).
 */
import { NodeRuntime, RemoteForwarder, TCP, TcpTransport, route } from '../../src';
import { settledSample } from '../lib/measure';
import { processListeners } from '../lib/node-sample';
import { errorLabel } from '../lib/traffic';
import { childLogger, numberOption, options, runChild, serve } from './serve';

runChild(async () => {
  const args = options({ hub: { type: 'string' }, lanes: { type: 'string' } });
  if (args.hub === undefined) throw new Error('--hub host:port is required');
  const hub = args.hub;
  const logger = childLogger();
  const lanes = await Promise.all(
    Array.from({ length: numberOption(args.lanes, 4) }, async () => {
      const node = new NodeRuntime({ logger });
      const tcp = await TcpTransport.create(node);
      return { node, tcp, ctx: node.context() };
    }),
  );
  let done = 0;

  async function cycle(lane: (typeof lanes)[number]): Promise<void> {
    await lane.tcp.connect(hub);
    const forwarder = await RemoteForwarder.create(lane.ctx, route([TCP, hub]), 'nowhere', {
      heartbeatIntervalMs: 3_600_000,
    });
    await forwarder.stop();
    await lane.tcp.disconnect(hub);
  }

  serve(
    {},
    {
      async cycles(a) {
        const n = Number(a[0]);
        const started = Date.now();
        const errors: Record<string, number> = {};
        let next = 0;
        let failed = 0;
        await Promise.all(
          lanes.map(async (lane) => {
            while (next < n) {
              next++;
              try {
                await cycle(lane);
              } catch (error) {
                failed++;
                errors[errorLabel(error)] = (errors[errorLabel(error)] ?? 0) + 1;
                await lane.tcp.disconnect(hub).catch(() => undefined);
              }
              done++;
            }
          }),
        );
        return { ms: Date.now() - started, failed, errors };
      },
      progress: () => ({ done }),
      async sample() {
        const memory = await settledSample();
        const sum = (f: (lane: (typeof lanes)[number]) => number): number =>
          lanes.reduce((total, lane) => total + f(lane), 0);
        return {
          ...memory,
          connections: sum((l) => l.tcp.connections().length),
          workers: sum((l) => l.node.workers().length),
          deadLetters: { all: sum((l) => l.node.deadLetters.count) },
          listeners: {
            node: sum((l) => l.node.eventNames().reduce((s, e) => s + l.node.listenerCount(e), 0)),
            deadLetters: sum((l) => l.node.deadLetters.listenerCount('deadLetter')),
            transport: sum((l) => l.tcp.eventNames().reduce((s, e) => s + l.tcp.listenerCount(e), 0)),
            process: processListeners(),
          },
        };
      },
    },
    () => Promise.all(lanes.map((lane) => lane.node.stop())).then(() => undefined),
  );
});
