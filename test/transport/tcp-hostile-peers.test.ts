import type { Socket } from 'node:net';
import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { PREAMBLE, frameHeader } from '../../src/transport/frame-parser';
import type { TransportErrorCode } from '../../src/transport/errors';
import type { ConnectionClosedEvent, ConnectionRefusedEvent } from '../../src/transport/tcp/tcp-transport';
import type { TcpTransportOptions } from '../../src/transport/tcp/tcp-options';
import { until, untilAny, within } from '../helpers/async';
import { Cleanup, startEchoer, startTcpNode, type TcpTestNode, rawTcpClient } from '../helpers/tcp-fixtures';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A raw TCP client (see `rawTcpClient`), destroyed after each test. */
const rawClient = (address: string, localAddress?: string): Promise<Socket> =>
  rawTcpClient(cleanup, address, localAddress);

function socketClosed(socket: Socket): Promise<void> {
  return socket.destroyed
    ? Promise.resolve()
    : new Promise((resolve) => socket.once('close', () => resolve()));
}

/** Resolves with the next `connectionClosed` event of an accepted connection. */
function nextAcceptedClose(hub: TcpTestNode): Promise<ConnectionClosedEvent> {
  return new Promise((resolve) => {
    const listener = (event: ConnectionClosedEvent): void => {
      if (event.outgoing) return;
      hub.tcp.off('connectionClosed', listener);
      resolve(event);
    };
    hub.tcp.on('connectionClosed', listener);
  });
}

/** The hub logged the close of a connection with this code. */
function loggedClose(hub: TcpTestNode, code: TransportErrorCode): boolean {
  return hub.logger.entries.some(
    (entry) => (entry.obj as { code?: string }).code === code && entry.msg?.startsWith('connection closed'),
  );
}

/** A hub with an echoer and short limits, and a well-behaved client that must keep getting replies. */
async function hubWithGoodClient(
  tcp: TcpTransportOptions = {},
): Promise<{ hub: TcpTestNode; assertGoodClientServed: () => Promise<void> }> {
  const hub = await startTcpNode(cleanup, {
    tcp: { handshakeTimeoutMs: 400, frameTimeoutMs: 600, ...tcp },
  });
  await startEchoer(hub.node);
  const good = await startTcpNode(cleanup, { listen: false });
  let n = 0;
  const assertGoodClientServed = async (): Promise<void> => {
    const body = `ping ${++n}`;
    await good.ctx.send(route([TCP, hub.address], 'echoer'), body);
    expect((await good.ctx.receive({ timeout: 5_000 })).body).toBe(body);
  };
  await assertGoodClientServed();
  // A plain echo client is nobody the hub knows: vouch for it as a registration or a handshake would.
  for (const connection of hub.tcp.connections()) connection.vouch();
  return { hub, assertGoodClientServed };
}

describe('TcpTransport facing hostile peers', () => {
  it.each([
    ['random bytes', Buffer.from('5c3a9f0e11d2b7c4', 'hex'), 'PROTOCOL_MISMATCH'],
    ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'PROTOCOL_MISMATCH'],
    ['a wrong protocol version', Buffer.from([...PREAMBLE.subarray(0, 4), 2]), 'PROTOCOL_MISMATCH'],
    [
      'an absurd frame length',
      Buffer.concat([PREAMBLE, Buffer.from([0xff, 0xff, 0xff, 0xff])]),
      'FRAME_TOO_LARGE',
    ],
    [
      'a frame that is not a transport message',
      Buffer.concat([PREAMBLE, frameHeader(3), Buffer.from([9, 9, 9])]),
      'MALFORMED',
    ],
  ] as const)('closes a connection that sends %s, with a logged reason', async (_kind, bytes, code) => {
    const { hub, assertGoodClientServed } = await hubWithGoodClient();
    const closed = nextAcceptedClose(hub);
    const socket = await rawClient(hub.address);
    socket.write(bytes);

    const event = await within(closed, 5_000, 'the hub to close the connection');
    expect(event.reason.code).toBe(code);
    await within(socketClosed(socket), 5_000, 'the client socket to close');
    expect(loggedClose(hub, code)).toBe(true);
    await assertGoodClientServed();
  });

  it('discards a truncated frame when the peer closes, and says so', async () => {
    const { hub, assertGoodClientServed } = await hubWithGoodClient();
    const closed = nextAcceptedClose(hub);
    const socket = await rawClient(hub.address);
    socket.end(Buffer.concat([PREAMBLE, frameHeader(100), Buffer.alloc(10)]));

    const event = await within(closed, 5_000, 'the hub to notice');
    expect(event.reason.code).toBe('CONNECTION_CLOSED');
    expect(event.reason.message).toContain('in the middle of a frame (10 bytes discarded)');
    expect(hub.node.deadLetters.count).toBe(0);
    await assertGoodClientServed();
  });

  it('closes a peer that trickles a frame one byte at a time, after the frame time limit', async () => {
    const { hub, assertGoodClientServed } = await hubWithGoodClient({ frameTimeoutMs: 600 });
    const closed = nextAcceptedClose(hub);
    const socket = await rawClient(hub.address);
    socket.write(Buffer.concat([PREAMBLE, frameHeader(1000)]));
    // One byte every 50 ms keeps the connection busy (never idle) but never completes the frame.
    const dribble = setInterval(() => socket.writable && socket.write(Buffer.from([0])), 50);
    cleanup.add(() => clearInterval(dribble));
    const started = Date.now();

    const event = await within(closed, 5_000, 'the hub to close the slow peer');
    expect(event.reason.code).toBe('TIMEOUT');
    expect(event.reason.message).toContain('did not complete a frame within 600 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect(loggedClose(hub, 'TIMEOUT')).toBe(true);
    await assertGoodClientServed();
  });

  it('closes a peer that trickles its preamble, after the handshake time limit', async () => {
    const { hub } = await hubWithGoodClient({ handshakeTimeoutMs: 300 });
    const closed = nextAcceptedClose(hub);
    const socket = await rawClient(hub.address);
    let i = 0;
    const dribble = setInterval(
      () => socket.writable && i < PREAMBLE.length && socket.write(PREAMBLE.subarray(i, ++i)),
      100,
    );
    cleanup.add(() => clearInterval(dribble));
    const event = await within(closed, 5_000, 'the hub to close the slow peer');
    expect(event.reason.code).toBe('TIMEOUT');
    expect(event.reason.message).toContain('preamble');
  });

  it('does not time out a peer whose frames complete, however long the connection lives', async () => {
    const { hub, assertGoodClientServed } = await hubWithGoodClient({ frameTimeoutMs: 300 });
    const closes: ConnectionClosedEvent[] = [];
    hub.tcp.on('connectionClosed', (event) => closes.push(event));
    for (let i = 0; i < 8; i++) {
      await assertGoodClientServed();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(closes).toEqual([]);
  });

  it('closes a connection that stays idle past the idle timeout', async () => {
    const { hub } = await hubWithGoodClient({ idleTimeoutMs: 300 });
    const closed = nextAcceptedClose(hub);
    const event = await within(closed, 5_000, 'the idle connection to close');
    expect(event.reason.code).toBe('TIMEOUT');
    expect(event.reason.message).toContain('idle');
  });

  it('at the per-remote limit evicts the oldest unvouched connection of that remote, refuses when all are vouched', async () => {
    const { hub, assertGoodClientServed } = await hubWithGoodClient({ maxConnectionsPerRemote: 3 });
    const refused: ConnectionRefusedEvent[] = [];
    const closed: ConnectionClosedEvent[] = [];
    hub.tcp.on('connectionRefused', (event) => refused.push(event));
    hub.tcp.on('connectionClosed', (event) => closed.push(event));
    // The good client holds one of the three, vouched for; raw idlers take the other two, then evict each other.
    const sockets: Socket[] = [];
    for (let i = 0; i < 4; i++) sockets.push(await rawClient(hub.address));
    await until(hub.tcp, 'connectionClosed', () => closed.length === 2, 5_000, 'two evictions');
    expect(closed.map((event) => event.reason.code)).toEqual(['LIMIT_REACHED', 'LIMIT_REACHED']);
    expect(closed[0]!.reason.message).toContain('evicted to admit a newcomer');
    await untilAny(
      [
        [sockets[0]!, 'close'],
        [sockets[1]!, 'close'],
      ],
      () => sockets[0]!.destroyed && sockets[1]!.destroyed,
      5_000,
      'the two oldest idlers to be closed',
    );
    expect(hub.tcp.stats.evictedUnvouched).toBe(2);
    expect(refused).toHaveLength(0);
    await assertGoodClientServed();

    // Once every connection of the remote is vouched for, a newcomer is refused at the door.
    for (const connection of hub.tcp.connections()) connection.vouch();
    await rawClient(hub.address);
    await until(hub.tcp, 'connectionRefused', () => refused.length === 1, 5_000, 'a refusal');
    expect(refused[0]!.reason.code).toBe('LIMIT_REACHED');
    expect(refused[0]!.reason.message).toContain(
      '127.0.0.1 holds its maximum of 3 connections, all vouched for',
    );
    await assertGoodClientServed();
  });

  it('holds its ground against 2000 idle connections: evicts the oldest beyond the maximum, times out the rest', async () => {
    const { hub, assertGoodClientServed } = await hubWithGoodClient({
      maxConnectionsPerListener: 100,
      maxConnectionsPerRemote: 10_000,
      // Long enough that admitted idlers stay while the flood arrives, so most of it meets a full listener.
      handshakeTimeoutMs: 3_000,
    });
    const refused: ConnectionRefusedEvent[] = [];
    const closed: ConnectionClosedEvent[] = [];
    hub.tcp.on('connectionRefused', (event) => refused.push(event));
    hub.tcp.on('connectionClosed', (event) => closed.push(event));

    const started = Date.now();
    const sockets: Socket[] = [];
    let most = 0;
    for (let batch = 0; batch < 20; batch++) {
      sockets.push(...(await Promise.all(Array.from({ length: 100 }, () => rawClient(hub.address)))));
      most = Math.max(most, hub.tcp.connections().length);
      await assertGoodClientServed();
    }
    // Each idle connection was admitted, then evicted by a newer one or closed for not sending a preamble;
    // none was refused, since the good client, the only one vouched for, holds a single slot.
    await untilAny(
      [
        [hub.tcp, 'connectionRefused'],
        [hub.tcp, 'connectionClosed'],
      ],
      () => refused.length + closed.length === 2000,
      15_000,
      'every idle connection to be dealt with',
    );
    expect(refused).toHaveLength(0);
    expect(closed.every((event) => ['TIMEOUT', 'LIMIT_REACHED'].includes(event.reason.code))).toBe(true);
    expect(hub.tcp.stats.evictedUnvouched).toBeGreaterThan(1000);
    expect(most).toBeLessThanOrEqual(101); // an evicted socket is counted until its close is processed
    await untilAny(
      sockets.map((socket) => [socket, 'close'] as const),
      () => sockets.every((socket) => socket.destroyed),
      10_000,
      'every idle socket to close',
    );
    await assertGoodClientServed();
    expect(hub.tcp.connections()).toHaveLength(1);

    // Refusals and closes are logged, throttled so that a flood of connections is not a flood of log lines.
    const logged = (): number =>
      hub.logger.at('warn').filter((entry) => entry.msg?.startsWith('connection')).length;
    expect(logged()).toBeGreaterThan(0);
    expect(logged()).toBeLessThan(20 * (2 + Math.ceil((Date.now() - started) / 1000)));
    await hub.tcp.stop(); // logs the count of warnings not logged in full
    const suppressed = hub.logger
      .at('warn')
      .reduce((sum, entry) => sum + ((entry.obj as { suppressed?: number }).suppressed ?? 0), 0);
    expect(logged() + suppressed).toBe(2000);
  });
});
