/**
 * Alice of the hub benchmarks: opens a secure channel to Bob through the hub (`<hub host:port> <Bob's
 * forwarding address>`; the hub as `ws#host:port/path` to reach it over WebSocket), prints `ready`, then runs each round the parent asks for on the wall clock:
 *
 *   rtt <n> [reliable] n sequential requests of 64 bytes to Bob's echoer: round trips/s
 *   bulk <n> [reliable] n sends of 64 KiB to Bob's sink, then a request for its count: MB/s (10^6 bytes)
 *                      (`reliable`: through a second channel, opened with `delivery: 'reliable'`)
 *   handshake <n> [cold]  n new channels to Bob, each closed once open: handshakes/s (cold: every identity
 *                      binding verified, see binding-cache.ts; Bob must be told `cache off` too)
 */
import { Address, TCP, TrustEveryone, WebSocketTransport, createSecureChannel, route } from '../../src';
import { startTcpNode } from '../../reliability/lib/tcp-node';
import { withoutBindingCache } from '../binding-cache';
import { startClock } from '../harness';
import { count, runProgram, serveCommands } from './command-loop';

const RTT_SIZE = 64;
const BULK_SIZE = 64 * 1024;

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
      async bulk(args) {
        const n = count(args);
        const sink = route(through(args), 'sink');
        const clock = startClock('wall');
        for (let i = 0; i < n; i++) await ctx.send(sink, chunk);
        const { body } = await ctx.request<number>(sink, 'flush');
        const rate = clock.perSecond((n * BULK_SIZE) / 1e6);
        if (body !== n * BULK_SIZE) throw new Error(`Bob counted ${body} bytes, not ${n * BULK_SIZE}`);
        return rate;
      },
      handshake(args) {
        const n = count(args);
        return args[1] === 'cold' ? withoutBindingCache(() => handshakes(n)) : handshakes(n);
      },
    },
    () => node.stop(),
  );
});
