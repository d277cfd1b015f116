import { createServer, type Server, type Socket } from 'node:net';
import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { PREAMBLE } from '../../src/transport/frame-parser';
import { collectGarbage, deferred, waitFor, within } from '../helpers/async';
import { Cleanup, startTcpNode } from '../helpers/tcp-fixtures';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const BODY = new Uint8Array(64 * 1024).fill(7);

/** Live memory after a full collection: heap plus array buffers (message bodies live in the latter). */
function liveBytes(): number {
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/**
 * Sends until one send has not completed within `waitMs`: the sender is being held back. Resolves with the
 * number of sends that completed and the one still pending.
 */
async function sendUntilHeld(
  send: () => Promise<unknown>,
  limit: number,
  waitMs = 300,
): Promise<{ sent: number; held: Promise<unknown> | undefined }> {
  for (let sent = 0; sent < limit; sent++) {
    const attempt = send();
    const done = await Promise.race([
      attempt.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), waitMs)),
    ]);
    if (!done) return { sent, held: attempt };
  }
  return { sent: limit, held: undefined };
}

/** A peer that completes the preamble and then reads nothing until told to. */
async function nonReadingPeer(): Promise<{ address: string; resume: () => void; received: () => number }> {
  const sockets: Socket[] = [];
  let bytes = 0;
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.write(PREAMBLE);
    socket.on('data', (chunk) => (bytes += chunk.length));
    socket.pause();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.add(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    resume: () => sockets.forEach((socket) => socket.resume()),
    received: () => bytes,
  };
}

describe('TcpTransport backpressure', () => {
  it('makes senders wait while the peer does not read, with memory bounded, and carries on when it does', async () => {
    const peer = await nonReadingPeer();
    const alice = await startTcpNode(cleanup, { listen: false, tcp: { connectionMailboxCapacity: 8 } });
    await alice.tcp.connect(peer.address);
    const before = liveBytes();

    // Kernel socket buffers take some megabytes first; then the socket, the connection's mailbox and finally
    // the sender wait. Without backpressure all 2000 (125 MiB) would be accepted at once.
    const { sent, held } = await sendUntilHeld(
      () => alice.ctx.send(route([TCP, peer.address], 'sink'), BODY),
      2000,
    );
    expect(held).toBeDefined();
    expect(sent).toBeLessThan(1000);
    const growth = liveBytes() - before;
    expect(growth).toBeLessThan(32 * 1024 * 1024);

    peer.resume();
    await within(held!, 10_000, 'the held send to complete once the peer reads');
    const total = (sent + 1) * BODY.length;
    await waitFor(() => peer.received() >= total, 10_000, 'the peer to receive everything');
    expect(alice.node.deadLetters.count).toBe(0);
  });

  it('pauses reading while a local mailbox is full, so the remote sender waits, and loses nothing', async () => {
    const alice = await startTcpNode(cleanup, { listen: false, tcp: { connectionMailboxCapacity: 8 } });
    const bob = await startTcpNode(cleanup);
    const gate = deferred();
    const received: number[] = [];
    await bob.node.startWorker(
      'sink',
      {
        handleMessage: async (_ctx, message) => {
          await gate.promise;
          received.push((message.body as Uint8Array)[0]!);
        },
      },
      { acceptsTransportMessages: true, mailboxCapacity: 4 },
    );
    const before = liveBytes();

    let n = 0;
    const { sent, held } = await sendUntilHeld(() => {
      const body = new Uint8Array(BODY);
      body[0] = n++ % 256;
      return alice.ctx.send(route([TCP, bob.address], 'sink'), body);
    }, 2000);
    expect(held).toBeDefined();
    expect(sent).toBeLessThan(1000);
    expect(liveBytes() - before).toBeLessThan(32 * 1024 * 1024);

    gate.resolve();
    await within(held!, 10_000, 'the held send to complete');
    await waitFor(() => received.length === sent + 1, 10_000, 'every message to arrive');
    expect(received).toEqual(Array.from({ length: sent + 1 }, (_, i) => i % 256));
    expect(bob.node.deadLetters.count).toBe(0);
  });

  it('closes a connection whose peer does not read within the drain timeout, releasing the senders', async () => {
    const peer = await nonReadingPeer();
    const alice = await startTcpNode(cleanup, {
      listen: false,
      tcp: { connectionMailboxCapacity: 4, drainTimeoutMs: 500 },
    });
    const address = await alice.tcp.connect(peer.address);
    const connection = alice.tcp.connection(address)!;

    const { held } = await sendUntilHeld(
      () => alice.ctx.send(route([TCP, peer.address], 'sink'), BODY),
      2000,
      100,
    );
    expect(held).toBeDefined();
    const reason = await within(connection.closed(), 5_000, 'the connection to close');
    expect(reason.code).toBe('TIMEOUT');
    expect(reason.message).toContain('did not read for 500 ms');
    await within(held!, 5_000, 'the held sender to be released');
    // What was still queued is accounted for, not silently lost.
    await waitFor(() => alice.node.deadLetters.countOf('undeliverable') > 0, 5_000, 'dead letters');
    expect(alice.node.deadLetters.recent().at(-1)!.detail).toContain('did not read');
  });

  it('does not make a stopping node wait for a peer that does not read', async () => {
    const peer = await nonReadingPeer();
    const alice = await startTcpNode(cleanup, { listen: false, tcp: { connectionMailboxCapacity: 4 } });
    const { held } = await sendUntilHeld(
      () => alice.ctx.send(route([TCP, peer.address], 'sink'), BODY),
      2000,
      100,
    );
    expect(held).toBeDefined();
    held!.catch(() => undefined);
    const started = Date.now();
    await within(alice.node.stop(), 5_000, 'the node to stop');
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
