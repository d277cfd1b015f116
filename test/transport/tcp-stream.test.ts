import { connect, createServer, type Server, type Socket } from 'node:net';
import { TcpStream } from '../../src/transport/tcp/tcp-stream';
import { within } from '../helpers/async';

const FRAME = new Uint8Array(64 * 1024).fill(3);

let server: Server | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

/** A connected client socket, and its peer's socket (which reads nothing until resumed). */
async function socketPair(): Promise<{ client: Socket; peer: Socket }> {
  const accepted = new Promise<Socket>((resolve) => {
    server = createServer((socket) => {
      socket.pause();
      sockets.push(socket);
      resolve(socket);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server!.address() as { port: number };
  const client = connect(port, '127.0.0.1');
  sockets.push(client);
  await within(new Promise((resolve) => client.once('connect', resolve)), 5000, 'connect');
  return { client, peer: await within(accepted, 5000, 'accept') };
}

const settings = { idleTimeoutMs: 0, keepAliveMs: 0 };
const ignore = (): void => undefined;
function events(drain: () => void) {
  return { data: ignore, drain, connect: ignore, idle: ignore, fail: ignore, close: ignore };
}

describe('TcpStream writes', () => {
  it('takes a few 64 KiB frames before its writer must wait, and then says drain once they left', async () => {
    const { client, peer } = await socketPair();
    const stream = new TcpStream(client);
    let drained = 0;
    stream.start(
      events(() => drained++),
      settings,
    );
    // Corked, nothing reaches the kernel: what the socket holds is exactly what was written.
    stream.cork();
    const taken = [1, 2, 3, 4, 5].map(() => stream.write(FRAME));
    // Node's own mark (16 KiB) refused the first; the stream's (256 KiB) only the fourth and later.
    expect(taken).toEqual([true, true, true, false, false]);
    stream.uncork();
    peer.resume();
    await within(
      new Promise<void>((resolve) => client.once('drain', resolve)),
      5000,
      'drain after the peer reads',
    );
    expect(drained).toBeGreaterThanOrEqual(1);
    expect(client.writableLength).toBe(0);
  });
});
