/**
 * One end of a bare byte relay through NATS, the floor of a federated hub's path
 * (bench/federation-procs.bench.ts): nothing of Sealroute, only a socket, a `@nats-io/transport-node`
 * client and the server between two such ends.
 *
 *   nats-bridge in <url> <subject>          listens on a free port of 127.0.0.1; the bytes of the connection
 *                                           it accepts go out on `<subject>.up`, and what comes on
 *                                           `<subject>.down` is written back to it. Prints `ready <port>`.
 *   nats-bridge out <url> <subject> <port>  connects to 127.0.0.1:<port>; what comes on `<subject>.up` is
 *                                           written there, and its bytes go out on `<subject>.down`.
 *
 * One connection at a time (a second one is closed at once): the suite's one echo connection.
 */
import { connect as connectNats } from '@nats-io/transport-node';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { runProgram, serveCommands } from './command-loop';

type NatsConnection = Awaited<ReturnType<typeof connectNats>>;

/** Publishes what `socket` reads on `out`, and writes to it what comes on `back`. */
function bridge(nc: NatsConnection, socket: Socket, out: string, back: string): () => void {
  socket.setNoDelay(true);
  socket.on('data', (chunk: Buffer) => nc.publish(out, chunk));
  socket.on('error', () => socket.destroy());
  const sub = nc.subscribe(back, {
    callback: (err: Error | null, msg: { data: Uint8Array }) => {
      if (err === null) socket.write(msg.data);
    },
  });
  return () => sub.unsubscribe();
}

runProgram(async () => {
  const [mode, url, subject, port] = process.argv.slice(2);
  if ((mode !== 'in' && mode !== 'out') || url === undefined || subject === undefined)
    throw new Error('usage: nats-bridge in <url> <subject> | out <url> <subject> <port>');
  const nc = await connectNats({ servers: [url] });
  const up = `${subject}.up`;
  const down = `${subject}.down`;
  if (mode === 'out') {
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    bridge(nc, socket, down, up);
    await nc.flush();
    serveCommands([], {}, async () => {
      socket.destroy();
      await nc.close();
    });
    return;
  }
  let current: Socket | undefined;
  const server = createServer((socket) => {
    if (current !== undefined) return socket.destroy();
    current = socket;
    const stop = bridge(nc, socket, up, down);
    socket.on('close', () => {
      stop();
      current = undefined;
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  serveCommands([(server.address() as AddressInfo).port], {}, async () => {
    current?.destroy();
    server.close();
    await nc.close();
  });
});
