/**
 * The one client of the portal benchmarks, plain TCP to a local port (an inlet, the relay, a TLS tunnel's
 * client end), so that every variant is the same unmodified application (byte-protocol.ts against
 * byte-server.ts's raw listener). Prints `ready`, then runs each round the parent asks for on the wall clock:
 *
 *   bulk <port> <n>     n writes of 64 KiB (waiting out backpressure) on a connection kept per port, then
 *                       the server's ACK: MB/s (10^6 bytes)
 *   connect <port> <n>  n new connections, each closed once one byte was echoed: sessions/s
 *   latency <port> <n> <p>  n sequential 64-byte messages echoed back on a connection kept per port: the
 *                       p-th percentile of their latencies, as its inverse (per second)
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { startClock } from '../harness';
import { ByteCounter, Mode, sendBulk } from './byte-protocol';
import { count, runProgram, serveCommands } from './command-loop';
import { inversePercentile, latencies } from './latency';

const BULK_SIZE = 64 * 1024;
const RTT_SIZE = 64;

async function open(port: number, mode: number): Promise<{ socket: Socket; counter: ByteCounter }> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const counter = new ByteCounter(socket);
  await Promise.race([
    once(socket, 'connect'),
    once(socket, 'error').then(([error]) => Promise.reject(error as Error)),
  ]);
  socket.write(Buffer.of(mode));
  return { socket, counter };
}

runProgram(async () => {
  const sinks = new Map<number, { socket: Socket; counter: ByteCounter }>();
  const echoes = new Map<number, { socket: Socket; counter: ByteCounter }>();
  const chunk = Buffer.alloc(BULK_SIZE, 9);
  const ping = Buffer.alloc(RTT_SIZE, 7);
  serveCommands(
    [],
    {
      async bulk(args) {
        const port = Number(args[0]);
        const n = count(args.slice(1));
        let sink = sinks.get(port);
        if (sink === undefined) sinks.set(port, (sink = await open(port, Mode.SINK)));
        const { socket, counter } = sink;
        return sendBulk(socket, counter, n, chunk);
      },
      async latency(args) {
        const port = Number(args[0]);
        let echo = echoes.get(port);
        if (echo === undefined) echoes.set(port, (echo = await open(port, Mode.ECHO)));
        const { socket, counter } = echo;
        const micros = await latencies(count(args.slice(1)), async () => {
          const echoed = counter.next(RTT_SIZE);
          socket.write(ping);
          await echoed;
        });
        return inversePercentile(micros, args[2]);
      },
      async connect(args) {
        const port = Number(args[0]);
        const n = count(args.slice(1));
        const clock = startClock('wall');
        for (let i = 0; i < n; i++) {
          const { socket, counter } = await open(port, Mode.ECHO);
          const echoed = counter.next(1);
          socket.write(Buffer.of(1));
          await echoed;
          socket.on('error', () => undefined);
          socket.destroy();
        }
        return clock.perSecond(n);
      },
    },
    () => [...sinks.values(), ...echoes.values()].forEach(({ socket }) => socket.destroy()),
  );
});
