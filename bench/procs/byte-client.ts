/**
 * The client of the hub benchmarks' baselines (byte-protocol.ts), talking to byte-server.ts through the
 * relay. Arguments: the relay's ports for the raw, mutual TLS and server-only TLS listeners, and the
 * directory of the PEM files (client.key, client.crt, server.crt). It opens its echo and sink connections
 * (raw, and mutual TLS) once, prints `ready`, then runs each round the parent asks for on the wall clock:
 *
 *   rtt raw|tls <n>              n sequential 64-byte messages echoed back: round trips/s
 *   bulk raw|tls <n>             n writes of 64 KiB (waiting out backpressure), then the ACK: MB/s
 *   handshake mutual|server <n>  n new TLS connections, each closed once the server's READY arrived
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { startClock } from '../harness';
import { ByteCounter, Mode, sendBulk } from './byte-protocol';
import { count, runProgram, serveCommands } from './command-loop';
import { TLS_OPTIONS } from './tls-options';

const RTT_SIZE = 64;
const BULK_SIZE = 64 * 1024;

interface Connection {
  readonly socket: Socket;
  readonly counter: ByteCounter;
}

/** Resolves with `ready`, or rejects if the socket fails or closes first. */
async function unlessFailed<T>(socket: Socket, ready: Promise<T>): Promise<T> {
  let fail!: (error: Error) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  const onError = (error: Error): void => fail(error);
  const onClose = (): void => fail(new Error('the connection closed'));
  socket.on('error', onError).on('close', onClose);
  try {
    return await Promise.race([ready, failed]);
  } finally {
    socket.off('error', onError).off('close', onClose);
  }
}

runProgram(async () => {
  const [rawPort, mutualPort, serverAuthPort] = process.argv.slice(2, 5).map(Number) as [
    number,
    number,
    number,
  ];
  const dir = process.argv[5]!;
  const pem = (file: string): string => readFileSync(join(dir, file), 'utf8');
  const trust = { ...TLS_OPTIONS, ca: [pem('server.crt')], servername: 'localhost' };
  const clientCert = { key: pem('client.key'), cert: pem('client.crt') };

  async function raw(mode: number): Promise<Connection> {
    const socket = connectTcp(rawPort, '127.0.0.1');
    await unlessFailed(socket, once(socket, 'connect'));
    socket.setNoDelay(true);
    const counter = new ByteCounter(socket);
    socket.write(Buffer.of(mode));
    return { socket, counter };
  }

  /** A TLS connection, once the server's READY byte arrived (it then holds the client as verified). */
  async function tls(port: number, withCert: boolean): Promise<Connection> {
    const socket = connectTls({ ...trust, ...(withCert ? clientCert : {}), host: '127.0.0.1', port });
    socket.setNoDelay(true);
    const counter = new ByteCounter(socket);
    await unlessFailed(socket, counter.next(1));
    return { socket, counter };
  }

  async function withMode(connection: Promise<Connection>, mode: number): Promise<Connection> {
    const c = await connection;
    c.socket.write(Buffer.of(mode));
    return c;
  }

  const echo = { raw: await raw(Mode.ECHO), tls: await withMode(tls(mutualPort, true), Mode.ECHO) };
  const sink = { raw: await raw(Mode.SINK), tls: await withMode(tls(mutualPort, true), Mode.SINK) };
  const kind = (arg: string | undefined): 'raw' | 'tls' => {
    if (arg !== 'raw' && arg !== 'tls') throw new Error(`expected raw or tls, got ${arg}`);
    return arg;
  };
  const ping = Buffer.alloc(RTT_SIZE, 7);
  const chunk = Buffer.alloc(BULK_SIZE, 9);

  serveCommands(
    [],
    {
      async rtt(args) {
        const { socket, counter } = echo[kind(args[0])];
        const n = count(args.slice(1));
        const clock = startClock('wall');
        for (let i = 0; i < n; i++) {
          const echoed = counter.next(RTT_SIZE);
          socket.write(ping);
          await echoed;
        }
        return clock.perSecond(n);
      },
      async bulk(args) {
        const { socket, counter } = sink[kind(args[0])];
        const n = count(args.slice(1));
        return sendBulk(socket, counter, n, chunk);
      },
      async handshake(args) {
        const mutual = args[0] === 'mutual';
        if (!mutual && args[0] !== 'server') throw new Error(`expected mutual or server, got ${args[0]}`);
        const n = count(args.slice(1));
        const clock = startClock('wall');
        for (let i = 0; i < n; i++) {
          const { socket } = await tls(mutual ? mutualPort : serverAuthPort, mutual);
          socket.on('error', () => undefined); // a late reset from the closing peer
          socket.destroy();
        }
        return clock.perSecond(n);
      },
    },
    () => {
      for (const c of [echo.raw, echo.tls, sink.raw, sink.tls]) c.socket.destroy();
    },
  );
});
