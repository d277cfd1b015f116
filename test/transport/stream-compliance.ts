import { Address } from '../../src/core/address';
import { route } from '../../src/core/route';
import type { TransportErrorCode } from '../../src/transport/errors';
import { PREAMBLE, frameHeader } from '../../src/transport/frame-parser';
import type { ConnectionClosedEvent } from '../../src/transport/stream-transport';
import { within } from '../helpers/async';
import { startStreamNode, type StreamKind, type StreamTestNode } from '../helpers/stream-kinds';
import { Cleanup, startEchoer } from '../helpers/tcp-fixtures';

/** Resolves with the next `connectionClosed` event of an accepted connection. */
function nextAcceptedClose(hub: StreamTestNode): Promise<ConnectionClosedEvent> {
  return new Promise((resolve) => {
    const listener = (event: ConnectionClosedEvent): void => {
      if (event.outgoing) return;
      hub.transport.off('connectionClosed', listener);
      resolve(event);
    };
    hub.transport.on('connectionClosed', listener);
  });
}

const concat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);

/**
 * What every stream transport (TCP, WebSocket) must do the same, whatever carries its bytes: the compliance
 * suite each runs (as js-libp2p's interface-compliance-tests), so a new transport cannot quietly drop a
 * defence. Transport-specific cases stay in each transport's own tests.
 */
export function streamTransportCompliance(kind: StreamKind): void {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  const start = (options: Parameters<typeof startStreamNode>[2] = {}): Promise<StreamTestNode> =>
    startStreamNode(cleanup, kind, options);
  const to = (node: StreamTestNode, ...rest: string[]) => route([kind.type, node.address], ...rest);

  describe(`${kind.name} (stream transport compliance)`, () => {
    it('carries a request and its reply between two nodes, and names the hop in its address type', async () => {
      const bob = await start();
      await startEchoer(bob.node);
      const alice = await start({ listen: false });
      const reply = await alice.ctx.request(to(bob, 'echoer'), 'hello', {
        timeout: 5_000,
        acceptsTransportReplies: true,
      });
      expect(reply.body).toBe('hello');
      expect(Address.parse(`${kind.type}#${bob.address}`).type).toBe(kind.type);
    });

    it('carries 32 MB of 64 KiB messages in order, senders waiting on backpressure, none lost', async () => {
      const bob = await start();
      let received = 0;
      let inOrder = true;
      await bob.node.startWorker(
        'sink',
        {
          handleMessage: (ctx, message) => {
            if (message.body === 'count') return ctx.send(message.returnRoute, received);
            const body = message.body as Uint8Array;
            if (body[0] !== received % 251) inOrder = false;
            received++;
          },
        },
        { acceptsTransportMessages: true },
      );
      const alice = await start({ listen: false });
      const chunk = new Uint8Array(64 * 1024);
      const n = 500;
      for (let i = 0; i < n; i++) {
        chunk[0] = i % 251;
        await alice.ctx.send(to(bob, 'sink'), chunk.slice());
      }
      const reply = await alice.ctx.request(to(bob, 'sink'), 'count', {
        timeout: 10_000,
        acceptsTransportReplies: true,
      });
      expect(reply.body).toBe(n);
      expect(inOrder).toBe(true);
    });

    it.each([
      ['random bytes', Buffer.from('5c3a9f0e11d2b7c4', 'hex'), 'PROTOCOL_MISMATCH'],
      ['a wrong protocol version', Buffer.from([...PREAMBLE.subarray(0, 4), 2]), 'PROTOCOL_MISMATCH'],
      ['an absurd frame length', concat(PREAMBLE, Buffer.from([0xff, 0xff, 0xff, 0xff])), 'FRAME_TOO_LARGE'],
      [
        'a frame that is not a transport message',
        concat(PREAMBLE, frameHeader(3), Buffer.from([9, 9, 9])),
        'MALFORMED',
      ],
    ] as const)('closes a connection that sends %s, with the reason', async (_kind, bytes, code) => {
      const hub = await start();
      const closed = nextAcceptedClose(hub);
      const peer = await kind.rawClient(cleanup, hub.address);
      peer.write(bytes);
      const event = await within(closed, 5_000, 'the hub to close the connection');
      expect(event.reason.code).toBe(code satisfies TransportErrorCode);
      await within(peer.closed, 5_000, 'the raw peer to be closed');
    });

    it('discards a truncated frame when the peer closes, and says so', async () => {
      const hub = await start();
      const closed = nextAcceptedClose(hub);
      const peer = await kind.rawClient(cleanup, hub.address);
      peer.end(concat(PREAMBLE, frameHeader(100), new Uint8Array(10)));
      const event = await within(closed, 5_000, 'the hub to notice');
      expect(event.reason.code).toBe('CONNECTION_CLOSED');
      expect(event.reason.message).toContain('in the middle of a frame (10 bytes discarded)');
      expect(hub.node.deadLetters.count).toBe(0);
    });

    it('closes a peer that trickles a frame, after the frame time limit', async () => {
      const hub = await start({ transport: { frameTimeoutMs: 400 } });
      const closed = nextAcceptedClose(hub);
      const peer = await kind.rawClient(cleanup, hub.address);
      peer.write(concat(PREAMBLE, frameHeader(1000)));
      const dribble = setInterval(() => peer.write(new Uint8Array(1)), 50);
      cleanup.add(() => clearInterval(dribble));
      const event = await within(closed, 5_000, 'the hub to close the slow peer');
      expect(event.reason.code).toBe('TIMEOUT');
      expect(event.reason.message).toContain('did not complete a frame within 400 ms');
    });

    it('closes a connection that stays idle past the idle timeout', async () => {
      const hub = await start({ transport: { idleTimeoutMs: 300, pingIntervalMs: 0 } });
      const closed = nextAcceptedClose(hub);
      const peer = await kind.rawClient(cleanup, hub.address);
      peer.write(PREAMBLE);
      const event = await within(closed, 5_000, 'the idle connection to close');
      expect(event.reason.code).toBe('TIMEOUT');
      expect(event.reason.message).toContain('idle');
    });

    it('closes a half-open connection: a peer that answers no PING within the peer timeout', async () => {
      const hub = await start({ transport: { pingIntervalMs: 50, peerTimeoutMs: 400 } });
      const closed = nextAcceptedClose(hub);
      const peer = await kind.rawClient(cleanup, hub.address);
      peer.write(PREAMBLE); // and then silence: never a PONG
      const event = await within(closed, 5_000, 'the silent peer to be noticed');
      expect(event.reason.code).toBe('PEER_UNRESPONSIVE');
    });

    it('closes a connection whose peer does not read within the drain timeout', async () => {
      const hub = await start({ transport: { drainTimeoutMs: 400 } });
      const closed = nextAcceptedClose(hub);
      const peer = await kind.rawClient(cleanup, hub.address);
      peer.write(PREAMBLE);
      peer.pause();
      const [connection] = await waitForConnections(hub, 1);
      await within(connection!.opened(), 5_000, 'the connection to open');
      connection!.vouch();
      const body = new Uint8Array(1 << 20);
      const sending = (async () => {
        // Far more than any socket buffer holds: the sender waits, then the connection gives up.
        for (let i = 0; i < 64 && connection!.isOpen; i++)
          await hub.ctx.send(route(connection!.address, 'x'), body);
      })();
      const event = await within(closed, 10_000, 'the hub to give up on the peer');
      expect(event.reason.code).toBe('TIMEOUT');
      expect(event.reason.message).toContain('did not read');
      await within(sending, 5_000, 'the sender to be released');
    });

    it('reconnects on the next message after the peer node restarts (a hub restart)', async () => {
      const alice = await start({ listen: false });
      const bob = await start();
      await startEchoer(bob.node);
      const ask = (body: string) =>
        alice.ctx.request(to(bob, 'echoer'), body, { timeout: 5_000, acceptsTransportReplies: true });
      expect((await ask('before')).body).toBe('before');
      const first = alice.transport.connection(bob.address)!;

      await bob.node.stop();
      const reason = await within(first.closed(), 5_000, 'the connection closing');
      expect(reason.code).toBe('CONNECTION_CLOSED');

      const bobAgain = await start({ listen: bob.address });
      await startEchoer(bobAgain.node);
      expect((await ask('after')).body).toBe('after');
      expect(alice.transport.connection(bob.address)!.address.equals(first.address)).toBe(false);
    });

    it('refuses an invalid address as a dead letter, and in connect()', async () => {
      const alice = await start({ listen: false });
      const [invalid, alsoInvalid] = kind.invalid ?? ['no-port-here', 'host:99999'];
      await alice.ctx.send(route([kind.type, invalid], 'echoer'), 'x');
      expect(alice.node.deadLetters.countOf('undeliverable')).toBe(1);
      await expect(alice.transport.connect(alsoInvalid)).rejects.toMatchObject({ code: 'INVALID_ADDRESS' });
    });

    it('does not relay messages from its connections to further hops unless told to', async () => {
      const hub = await start();
      const far = await start();
      await startEchoer(far.node);
      const alice = await start({ listen: false });
      await alice.ctx.send(route([kind.type, hub.address], [kind.type, far.address], 'echoer'), 'pivot');
      await within(waitForDeadLetter(hub), 5_000, 'the hub to refuse');
      expect(hub.node.deadLetters.recent().at(-1)!.reason).toBe('access-denied');
      expect(far.transport.connections()).toHaveLength(0);
    });

    it('stops cleanly: stop() closes listeners and connections', async () => {
      const bob = await start();
      await startEchoer(bob.node);
      const alice = await start({ listen: false });
      await alice.transport.connect(bob.address);
      const first = alice.transport.connection(bob.address)!;
      await bob.transport.stop();
      expect(bob.transport.listenAddresses()).toEqual([]);
      await within(first.closed(), 5_000, 'the connection to close on both sides');
      await expect(alice.transport.connect(`${bob.address}`)).rejects.toMatchObject({
        code: 'CONNECT_FAILED',
      });
    });
  });
}

/** The transport's connections once it holds `count` (waits on its `connectionOpened` events). */
async function waitForConnections(node: StreamTestNode, count: number) {
  await within(
    new Promise<void>((resolve) => {
      const check = (): void => {
        if (node.transport.connections().length < count) return;
        node.transport.off('connectionOpened', check);
        resolve();
      };
      node.transport.on('connectionOpened', check);
      check();
    }),
    5_000,
    `${count} connections`,
  );
  return node.transport.connections();
}

function waitForDeadLetter(node: StreamTestNode): Promise<void> {
  return new Promise((resolve) => node.node.deadLetters.once('deadLetter', () => resolve()));
}
