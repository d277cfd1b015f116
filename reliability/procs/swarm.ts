/**
 * Many clients in one process, for the scale program: opens thousands of secure channels to Bob through
 * the hub (one identity, one TCP connection, as a busy client has), or registers thousands of forwarders
 * at the hub. Prints `ready {}`. Options: `--hub host:port`, `--to <Bob's forwarding address>`.
 * Commands:
 *   open [n, concurrency]       n more channels, at most `concurrency` handshakes at once
 *   progress                    channels open so far (cheap: no GC)
 *   echo [k]                    a request to Bob's echoer through k channels picked at random
 *   closeAll [keep]             closes every channel but the first `keep`
 *   forward [n, concurrency]    n forwarders at the hub (heartbeats off: only their memory is of interest)
 *   unforward                   stops (unregisters) them
 *   sample, censusStart, censusDiff
 */
import {
  RemoteForwarder,
  TCP,
  TrustEveryone,
  createSecureChannel,
  route,
  type SecureChannel,
} from '../../src';
import { censusCommands, sampleNode } from '../lib/node-sample';
import { startTcpNode } from '../lib/tcp-node';
import { errorLabel } from '../lib/traffic';
import { childLogger, options, runChild, serve } from './serve';

/** Runs `task` n times with at most `concurrency` at once; counts failures by error label. */
async function pool(
  n: number,
  concurrency: number,
  task: () => Promise<void>,
): Promise<{ ms: number; failed: number; errors: Record<string, number> }> {
  const started = Date.now();
  const errors: Record<string, number> = {};
  let next = 0;
  let failed = 0;
  const lane = async (): Promise<void> => {
    while (next < n) {
      next++;
      try {
        await task();
      } catch (error) {
        failed++;
        const label = errorLabel(error);
        errors[label] = (errors[label] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, lane));
  return { ms: Date.now() - started, failed, errors };
}

runChild(async () => {
  const args = options({ hub: { type: 'string' }, to: { type: 'string' } });
  if (args.hub === undefined || args.to === undefined) throw new Error('--hub and --to are required');
  const { node, ctx, tcp, identity } = await startTcpNode('swarm', { logger: childLogger() });
  const hub = route([TCP, args.hub]);
  const toBob = route([TCP, args.hub], args.to);
  const channels: SecureChannel[] = [];
  const forwarders: RemoteForwarder[] = [];

  serve(
    {},
    {
      open: (a) =>
        pool(Number(a[0]), Number(a[1] ?? 32), async () => {
          channels.push(await createSecureChannel(ctx, identity, toBob, { trustPolicy: TrustEveryone }));
        }),
      progress: () => ({ channels: channels.length, forwarders: forwarders.length }),
      echo: (a) => {
        const k = Math.min(Number(a[0] ?? 20), channels.length);
        return pool(k, 16, async () => {
          const channel = channels[Math.floor(Math.random() * channels.length)]!;
          await ctx.request(route(channel, 'echoer'), 'ping', { timeout: 10_000 });
        });
      },
      async closeAll(a) {
        const all = channels.splice(Number(a[0] ?? 0)); // the first `keep` (warm-up) channels stay
        let i = 0;
        return pool(all.length, 64, () => all[i++]!.close());
      },
      forward: (a) =>
        pool(Number(a[0]), Number(a[1] ?? 64), async () => {
          forwarders.push(
            await RemoteForwarder.create(ctx, hub, 'listener', { heartbeatIntervalMs: 3_600_000 }),
          );
        }),
      async unforward() {
        const all = forwarders.splice(0);
        let i = 0;
        return pool(all.length, 64, () => all[i++]!.stop());
      },
      sample: async () => ({
        ...(await sampleNode(node)),
        connections: tcp.connections().length,
        channels: channels.length,
        forwarders: forwarders.length,
      }),
      ...censusCommands(),
    },
    () => node.stop(),
  );
});
