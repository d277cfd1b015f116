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

/** A listening server whose connections run `serve`; its port. */
async function listen(serve: (socket: Socket) => void): Promise<number> {
  server = createServer((socket) => {
    sockets.push(socket);
    serve(socket);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server!.address() as { port: number }).port;
}

/** `length` bytes of a pattern that a misplaced or overwritten byte breaks. */
function pattern(length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + (i >>> 8)) & 0xff;
  return bytes;
}

describe('TcpStream.dial (reads into a ReadSlab)', () => {
  it('delivers every byte of a bulk stream unchanged, consecutive reads back to back in memory', async () => {
    const sent = pattern(8 * 1024 * 1024);
    const port = await listen((socket) => socket.end(sent));
    const stream = TcpStream.dial('127.0.0.1', port);
    sockets.push(stream.socket);
    const chunks: Uint8Array[] = [];
    const closed = new Promise<Error | undefined>((resolve) =>
      stream.start({ ...events(ignore), data: (chunk) => chunks.push(chunk), close: resolve }, settings),
    );
    // The peer's FIN closes the stream (no 'data' listener: the socket must still see its end).
    expect(await within(closed, 10_000, 'the stream closes after the peer ends')).toBeUndefined();
    // Checked after the last read: a region given out twice would show as changed earlier bytes.
    expect(Buffer.concat(chunks).equals(sent)).toBe(true);
    let adjacent = 0;
    for (let i = 1; i < chunks.length; i++) {
      const [a, b] = [chunks[i - 1]!, chunks[i]!];
      if (a.buffer === b.buffer && a.byteOffset + a.length === b.byteOffset) adjacent++;
    }
    expect(adjacent).toBeGreaterThan(0);
    // Once reads filled their regions, slabs grew past node's 64 KiB reads.
    expect(Math.max(...chunks.map((chunk) => chunk.length))).toBeGreaterThan(64 * 1024);
  });

  it('stops reading while paused, so the peer backs up, and reads the rest once resumed', async () => {
    const total = 16 * 1024 * 1024;
    const sent = pattern(total);
    let blocked!: () => void;
    const peerBlocked = new Promise<void>((resolve) => (blocked = resolve));
    const port = await listen((socket) => {
      // Writes 64 KiB at a time, waiting for 'drain' whenever the socket says it is full.
      let at = 0;
      const more = (): void => {
        while (at < total) {
          const ok = socket.write(sent.subarray(at, at + 65_536));
          at += 65_536;
          if (!ok) {
            blocked();
            socket.once('drain', more);
            return;
          }
        }
        socket.end();
      };
      more();
    });
    const stream = TcpStream.dial('127.0.0.1', port);
    sockets.push(stream.socket);
    let paused = false;
    let readWhilePaused = 0;
    const chunks: Uint8Array[] = [];
    const firstData = new Promise<void>((resolve) =>
      stream.start(
        {
          ...events(ignore),
          data: (chunk) => {
            if (paused) readWhilePaused += chunk.length;
            chunks.push(chunk);
            if (chunks.length === 1) {
              paused = true;
              stream.pause();
              resolve();
            }
          },
        },
        settings,
      ),
    );
    await within(firstData, 5000, 'the first read');
    // Paused: the kernel's buffers fill and the peer's socket refuses more.
    await within(peerBlocked, 10_000, 'the peer backs up');
    const received = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    expect(received).toBeLessThan(total);
    const ended = new Promise<void>((resolve) => stream.socket.once('end', resolve));
    paused = false;
    stream.resume();
    await within(ended, 10_000, 'the rest after resume');
    expect(readWhilePaused).toBe(0);
    expect(Buffer.concat(chunks).equals(sent)).toBe(true);
  });
});
