/**
 * Alice of the hub benchmarks: opens a secure channel to Bob through the hub (`<hub host:port> <Bob's
 * forwarding address>`; the hub as `ws#host:port/path` to reach it over WebSocket), prints `ready`, then runs each round the parent asks for on the wall clock:
 *
 *   rtt <n> [reliable] n sequential requests of 64 bytes to Bob's echoer: round trips/s
 *   latency <n> <p>    the same n round trips: the p-th percentile of their latencies, as its inverse (per
 *                      second, so that higher is better like every other figure)
 *   bulk <n> [reliable] n sends of 64 KiB to Bob's sink, at most 8 MiB unconfirmed (`BULK_CONFIRM_EVERY`),
 *                      then a request for its count: MB/s (10^6 bytes); fails, saying so with this end's
 *                      channel counters, if Bob did not count them all (`reliable`: through a second
 *                      channel, opened with `delivery: 'reliable'`)
 *   handshake <n> [cold]  n new channels to Bob, each closed once open: handshakes/s (cold: every identity
 *                      binding verified, see binding-cache.ts; Bob must be told `cache off` too)
 *   drops              the counters of both channels (what hops reported undelivered, what went missing)
 */
import { Address, TCP, TrustEveryone, WebSocketTransport, createSecureChannel, route } from '../../src';
import { startTcpNode } from '../../reliability/lib/tcp-node';
import { withoutBindingCache } from '../binding-cache';
import { startClock } from '../harness';
import { count, runProgram, serveCommands } from './command-loop';
import { inversePercentile, latencies } from './latency';

const RTT_SIZE = 64;
const BULK_SIZE = 64 * 1024;
/**
 * Bulk messages between two count requests to Bob's sink; Alice sends no further than two such stretches
 * (8 MiB) past the last count Bob answered. A default channel has no window of its own: when a starved Bob
 * read slower than Alice wrote, the hub's queue toward him reached its 16 MiB (`maxQueuedBytesPerConnection`)
 * and the hub dropped frames as `CONGESTED`, counted and noticed, yet Bob's count fell short (31 of 500
 * messages on a loaded machine). Alice's sends wait only for her own node; what a bulk sender over a default
 * channel must bound itself is what is on the way, as a reliable channel does (its `maxUnackedBytes`, 8 MiB).
 */
const BULK_CONFIRM_EVERY = 64;

runProgram(async () => {
  const [hub, forwardingAddress] = process.argv.slice(2) as [string, string];
  const { node, ctx, identity: alice } = await startTcpNode('alice');
  await WebSocketTransport.create(node);
  const toBob = route(hub.includes('#') ? Address.parse(hub) : [TCP, hub], forwardingAddress);
  const open = () => createSecureChannel(ctx, alice, toBob, { trustPolicy: TrustEveryone });
  const channel = await open();
  const reliable = await createSecureChannel(ctx, alice, toBob, {
    trustPolicy: TrustEveryone,
    delivery: 'reliable',
  });
  const through = (args: readonly string[]) => (args[1] === 'reliable' ? reliable : channel);
  const ping = new Uint8Array(RTT_SIZE).fill(7);
  const chunk = new Uint8Array(BULK_SIZE).fill(9);

  async function handshakes(n: number): Promise<number> {
    const clock = startClock('wall');
    for (let i = 0; i < n; i++) await (await open()).close();
    return clock.perSecond(n);
  }

  serveCommands(
    [],
    {
      async rtt(args) {
        const n = count(args);
        const echoer = route(through(args), 'echoer');
        const clock = startClock('wall');
        for (let i = 0; i < n; i++) {
          const reply = await ctx.request<Uint8Array>(echoer, ping);
          if (reply.body.length !== RTT_SIZE) throw new Error('a short echo');
        }
        return clock.perSecond(n);
      },
      async latency(args) {
        const echoer = route(channel, 'echoer');
        const micros = await latencies(count(args), async () => {
          const reply = await ctx.request<Uint8Array>(echoer, ping);
          if (reply.body.length !== RTT_SIZE) throw new Error('a short echo');
        });
        return inversePercentile(micros, args[1]);
      },
      async bulk(args) {
        const n = count(args);
        const used = through(args);
        const sink = route(used, 'sink');
        const counted = async () => (await ctx.request<number>(sink, 'count')).body;
        const stats = { ...used.stats };
        const before = await counted();
        const clock = startClock('wall');
        let confirming: Promise<number> | undefined;
        for (let i = 0; i < n; i++) {
          if (i > 0 && i % BULK_CONFIRM_EVERY === 0) {
            const previous = confirming;
            confirming = counted();
            confirming.catch(() => undefined); // awaited in turn: a failure now is not unhandled
            await previous;
          }
          await ctx.send(sink, chunk);
        }
        const [total] = await Promise.all([counted(), confirming]);
        const delivered = total - before;
        const rate = clock.perSecond((n * BULK_SIZE) / 1e6);
        if (delivered !== n * BULK_SIZE) {
          const now = used.stats;
          throw new Error(
            `Bob counted ${delivered} bytes, not ${n * BULK_SIZE} (${(n * BULK_SIZE - delivered) / BULK_SIZE} ` +
              `messages short); this round Alice's channel had ${now.routeNotices - stats.routeNotices} ` +
              `notices of undelivered frames from a hop, ${now.congestionHolds - stats.congestionHolds} ` +
              `congestion holds`,
          );
        }
        return rate;
      },
      drops: () => JSON.stringify({ channel: channel.stats, reliable: reliable.stats }),
      handshake(args) {
        const n = count(args);
        return args[1] === 'cold' ? withoutBindingCache(() => handshakes(n)) : handshakes(n);
      },
    },
    () => node.stop(),
  );
});
