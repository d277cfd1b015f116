import type { Socket } from 'node:net';
import { TCP } from '../../src/core/address';
import { decodeBody, encodeBody } from '../../src/core/codec';
import { route } from '../../src/core/route';
import { decodeTransportMessage, encodeTransportMessage } from '../../src/core/wire';
import { ForwardingService } from '../../src/services/forwarding-service';
import { FrameParser, PREAMBLE, frameHeader } from '../../src/transport/frame-parser';
import type { ConnectionClosedEvent } from '../../src/transport/tcp/tcp-transport';
import { settledSample } from '../../reliability/lib/measure';
import { nextListenerEvent, startAlice, startBob } from '../helpers/alice-and-bob';
import { collectGarbage, waitFor, within } from '../helpers/async';
import { Cleanup, startTcpNode, rawTcpClient } from '../helpers/tcp-fixtures';
import { scaled } from '../helpers/slowdown';
import type { TcpTransportOptions } from '../../src/transport/tcp/tcp-options';

// The byte budgets and idle-connection defences of a hub (docs/SECURITY.md, "Resource limits"), each
// attacked over real sockets while an honest Alice keeps talking to Bob through the same hub.

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const MiB = 1024 * 1024;

/** A raw TCP client (see `rawTcpClient`), destroyed after each test. */
const rawClient = (address: string, localAddress?: string): Promise<Socket> =>
  rawTcpClient(cleanup, address, localAddress);

/** A hub with a forwarding service, Bob registered there, and Alice's channel to him through it. */
async function hubWithAliceAndBob(tcp: TcpTransportOptions) {
  const hub = await startTcpNode(cleanup, { tcp });
  await ForwardingService.create(hub.ctx, 'forwarding_service');
  const bob = await startBob(cleanup, hub.address);
  const alice = await startAlice(cleanup);
  const toBob = route([TCP, hub.address], bob.forwarder.forwardingAddress);
  const opened = nextListenerEvent(bob.listener, 'channelOpened');
  const channel = await alice.open(toBob, bob.identity);
  await opened;
  const aliceTalksToBob = async (text: string): Promise<void> => {
    expect(await alice.echo(channel, text, 10_000)).toBe(text);
  };
  await aliceTalksToBob('before');
  return { hub, bob, alice, toBob, aliceTalksToBob };
}

describe('a hub under attacks on its memory and its connection slots', () => {
  it('24 connections each sending a nearly complete 16 MiB frame stay within the node’s partial-frame budget', async () => {
    const { hub, aliceTalksToBob } = await hubWithAliceAndBob({ maxPartialFrameBytes: 64 * MiB });
    const closed: ConnectionClosedEvent[] = [];
    hub.tcp.on('connectionClosed', (event) => closed.push(event));
    collectGarbage();
    const before = await settledSample();

    // One shared buffer: the attackers' own memory is 16 MiB, whatever the hub does with what it reads.
    const almost = Buffer.alloc(16 * MiB - 1 - 4, 7);
    const header = frameHeader(16 * MiB - 4);
    const written: Promise<unknown>[] = [];
    for (let i = 0; i < 24; i++) {
      const socket = await rawClient(hub.address);
      socket.resume();
      socket.write(PREAMBLE);
      socket.write(header);
      written.push(new Promise((resolve) => socket.write(almost, resolve)));
    }
    await within(Promise.all(written), 60_000, 'the attackers to write their frames');
    await waitFor(() => hub.tcp.partialFrames.used <= hub.tcp.partialFrames.limit, 10_000);
    const during = await settledSample();

    // Without the budget the hub held about 24 x 16 MiB = 384 MiB; now the budget, plus the attackers'
    // shared buffer and what a read in flight holds.
    expect(hub.tcp.partialFrames.peak).toBeLessThanOrEqual(64 * MiB);
    expect(during.arrayBuffers - before.arrayBuffers).toBeLessThan(64 * MiB + 16 * MiB + 32 * MiB);
    const overBudget = closed.filter((event) => event.reason.code === 'LIMIT_REACHED');
    expect(overBudget.length).toBeGreaterThanOrEqual(19);
    expect(overBudget[0]!.reason.message).toContain('maxPartialFrameBytes');
    expect(hub.tcp.stats.partialFrameBudgetClosed).toBe(overBudget.length);
    await aliceTalksToBob('during');
  });

  it('a forwarder whose owner stops reading holds at most its per-connection queue budget at the hub', async () => {
    const { hub, alice, aliceTalksToBob } = await hubWithAliceAndBob({
      maxQueuedBytesPerConnection: 4 * MiB,
      drainTimeoutMs: 60_000,
    });
    // Mallory registers a forwarder over a raw connection, reads the reply, then never reads again.
    const mallory = await rawClient(hub.address);
    const parser = new FrameParser({ maxFrameSize: 1 * MiB });
    const registered = new Promise<string>((resolve) => {
      mallory.on('data', (chunk: Buffer) => {
        parser.push(new Uint8Array(chunk));
        for (let event = parser.next(); event !== undefined; event = parser.next()) {
          if (event.kind !== 'frame') continue;
          const body = decodeBody(decodeTransportMessage(event.frame).payload) as { address?: string };
          if (body.address !== undefined) resolve(body.address);
        }
      });
    });
    const request = encodeTransportMessage({
      onwardRoute: route('forwarding_service'),
      returnRoute: route('mallory'),
      payload: encodeBody({ v: 2, type: 'register', nonce: '0123456789abcdef0123456789abcdef' }),
    });
    mallory.write(Buffer.concat([PREAMBLE, frameHeader(request.length), request]));
    const forwarder = await within(registered, 5_000, 'the forwarder to be registered');
    mallory.pause();
    mallory.removeAllListeners('data');

    collectGarbage();
    const before = await settledSample();
    const body = new Uint8Array(MiB).fill(3); // one buffer, sent 200 times
    const toMallory = route([TCP, hub.address], forwarder, 'sink');
    for (let i = 0; i < 200; i++) await alice.ctx.send(toMallory, body);
    await waitFor(() => hub.tcp.stats.queueBytesRefused >= 150, 30_000, 'the queue toward Mallory to refuse');
    const during = await settledSample();

    // Without the bound the hub held the connection's 256 messages and its forwarder's 1024 (~385 MiB in
    // the issue); now 4 MiB queued, the frame being written, what the kernel buffers and Alice's frames.
    expect(during.arrayBuffers - before.arrayBuffers).toBeLessThan(24 * MiB);
    expect(hub.node.deadLetters.countOf('undeliverable')).toBeGreaterThanOrEqual(150);
    expect(
      hub.logger.at('warn').some((entry) => entry.msg?.includes('maxQueuedBytesPerConnection') === true),
    ).toBe(true);
    await aliceTalksToBob('during');
  });

  it(
    '4,096 idle connections from 16 hosts lock out neither a newcomer nor a real Bob: the oldest idlers are evicted',
    async () => {
      const { hub, bob, aliceTalksToBob } = await hubWithAliceAndBob({
        // 4,096 idlers, and Alice's and Bob's connections.
        maxConnectionsPerListener: 4_098,
        maxConnectionsPerRemote: 512,
        unvouchedTimeoutMs: 60_000,
      });
      const closed: ConnectionClosedEvent[] = [];
      hub.tcp.on('connectionClosed', (event) => closed.push(event));
      // Bob registered a forwarder and Alice completed a handshake through the hub: both are vouched for.
      const idlers: Socket[] = [];
      const hostOf = new Map<Socket, string>();
      for (let host = 0; host < 16; host++) {
        const batch = Array.from({ length: 256 }, () => rawClient(hub.address, `127.0.1.${host + 1}`));
        for (const socket of await Promise.all(batch)) {
          socket.write(PREAMBLE); // past the preamble timeout: idle, not slow
          idlers.push(socket);
          hostOf.set(socket, `127.0.1.${host + 1}`);
        }
      }
      await waitFor(() => hub.tcp.connections().length === 4_098, 30_000, 'the listener to be full');
      expect(closed).toHaveLength(0);

      // A newcomer and a restarted Bob get in: each evicts the oldest idler of the host holding the most.
      const newcomer = await rawClient(hub.address);
      newcomer.write(PREAMBLE);
      const bob2 = await startBob(cleanup, hub.address);
      expect(hub.tcp.stats.evictedUnvouched).toBeGreaterThanOrEqual(2);
      expect(closed.every((event) => event.reason.code === 'LIMIT_REACHED')).toBe(true);
      // The first two hosts' oldest (all hosts held 256; then the first held 255).
      const evicted = (): Socket[] => idlers.filter((socket) => socket.destroyed);
      await waitFor(
        () => evicted().length === hub.tcp.stats.evictedUnvouched,
        5_000,
        'the evicted idlers to close',
      );
      expect(evicted().map((socket) => hostOf.get(socket))).toEqual(['127.0.1.1', '127.0.1.2']);
      expect(newcomer.destroyed).toBe(false);
      await aliceTalksToBob('during');
      expect(bob2.forwarder.forwardingAddress).toBeDefined();
      expect(bob.listener.stats.channelsOpened).toBe(1);
    },
    scaled(120_000),
  );

  it('closes a connection nobody vouches for after unvouchedTimeoutMs; a registered one stays', async () => {
    const { hub, aliceTalksToBob } = await hubWithAliceAndBob({ unvouchedTimeoutMs: 500 });
    const closed = new Promise<ConnectionClosedEvent>((resolve) => hub.tcp.once('connectionClosed', resolve));
    const idler = await rawClient(hub.address);
    idler.write(PREAMBLE);
    const event = await within(closed, 5_000, 'the idler to be closed');
    expect(event.reason.code).toBe('TIMEOUT');
    expect(event.reason.message).toContain('nobody vouched for the connection within 500 ms');
    expect(hub.tcp.stats.unvouchedTimedOut).toBe(1);
    // Bob's and Alice's connections, older than the idler's, were vouched for: a forwarder registered, a
    // handshake answered through Bob's.
    await aliceTalksToBob('after');
    expect(hub.tcp.stats.unvouchedTimedOut).toBe(1);
  });
});
