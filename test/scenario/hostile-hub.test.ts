import { TCP } from '../../src/core/address';
import { encodeBody } from '../../src/core/codec';
import { route, type Route } from '../../src/core/route';
import { encodeTransportMessage } from '../../src/core/wire';
import { SecureChannelError } from '../../src/channel/errors';
import type { SecureChannelListenerOptions } from '../../src/channel';
import { FrameType, readU64 } from '../../src/channel/frames';
import type { NonceGap } from '../../src/channel/reorder-buffer';
import type { DroppedFrames, SecureChannel } from '../../src/channel/secure-channel';
import type { DeadLetter } from '../../src/node/dead-letters';
import type { NodeRuntime } from '../../src/node/node-runtime';
import { ForwardingService } from '../../src/services/forwarding-service';
import { nextListenerEvent, startAlice, startBob, type Alice, type Bob } from '../helpers/alice-and-bob';
import { waitFor, within } from '../helpers/async';
import type { LogEntry } from '../helpers/capturing-logger';
import { HostileProxy, type ProxiedFrame } from '../helpers/hostile-proxy';
import { Cleanup, startTcpNode, type TcpTestNode } from '../helpers/tcp-fixtures';

// Alice and Bob of the examples, as in-process nodes, with a hostile TCP proxy in front of the hub: it
// reads the framing and tampers with single frames on command. Whatever it does, nothing corrupt or forged
// is delivered, each tampering is detected and told apart (a typed error, a counter, a log line), and both
// nodes carry on: the same channel and a new one work afterwards.

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Bob's replay window: small, so that a frame held back past it takes a handful of messages. */
const REPLAY_WINDOW = 8;
/** Bob's responders give up on a handshake after this long. */
const HANDSHAKE_TIMEOUT_MS = 1_500;
/** How long Bob holds frames that arrived ahead of a missing one before he reports the gap. */
const REORDER_TIMEOUT_MS = 1_000;
/** How long a request that cannot be answered waits before its TimeoutError. */
const LOST_MS = 1_000;

const NO_DROPS: DroppedFrames = {
  decryptFailed: 0,
  replayed: 0,
  tooOld: 0,
  malformed: 0,
  tooLarge: 0,
  evicted: 0,
};

interface World {
  readonly hub: TcpTestNode;
  readonly proxy: HostileProxy;
  readonly bob: Bob;
  readonly alice: Alice;
  /** The proxy's connection numbers of Bob's and Alice's connections to the hub. */
  readonly bobLink: number;
  readonly aliceLink: number;
  /** Alice's route to Bob's listener: the proxy (the hub, as Alice sees it), then Bob's forwarder. */
  readonly toBob: Route;
  /** Alice's end of the channel, and Bob's. */
  readonly channel: SecureChannel;
  readonly bobChannel: SecureChannel;
}

/** A hub behind a hostile proxy, Bob registered there, and a channel from Alice to Bob through it. */
async function world(listener: Partial<SecureChannelListenerOptions> = {}): Promise<World> {
  const hub = await startTcpNode(cleanup);
  await ForwardingService.create(hub.ctx, 'forwarding_service');
  const proxy = await HostileProxy.start(hub.address);
  cleanup.add(() => proxy.close());

  const bob = await startBob(cleanup, proxy.address, {
    listener: {
      replayWindow: REPLAY_WINDOW,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      reorderTimeout: REORDER_TIMEOUT_MS,
      ...listener,
    },
  });
  const bobLink = proxy.connectionCount - 1;
  const alice = await startAlice(cleanup);
  const toBob = route([TCP, proxy.address], bob.forwarder.forwardingAddress);
  const bobSide = nextListenerEvent(bob.listener, 'channelOpened');
  const channel = await alice.open(toBob, bob.identity);
  const bobChannel = await bobSide;
  const aliceLink = proxy.connectionCount - 1;
  expect([bobLink, aliceLink]).toEqual([0, 1]);
  return { hub, proxy, bob, alice, bobLink, aliceLink, toBob, channel, bobChannel };
}

type Party = 'Alice' | 'Bob';

/** Secure channel frames of one type on their way from the hub to `party`. */
function toward(w: World, party: Party, type: number): (frame: ProxiedFrame) => boolean {
  const link = party === 'Bob' ? w.bobLink : w.aliceLink;
  return (frame) =>
    frame.connection === link &&
    frame.direction === 'fromTarget' &&
    frame.body instanceof Uint8Array &&
    frame.body[0] === type;
}

/** Log entries at warn level whose fields include `fields`. */
function warnings(node: TcpTestNode, fields: Record<string, unknown>): LogEntry[] {
  return node.logger
    .at('warn')
    .filter((entry) =>
      Object.entries(fields).every(([key, value]) => (entry.obj as Record<string, unknown>)[key] === value),
    );
}

function nextDeadLetter(node: NodeRuntime): Promise<DeadLetter> {
  const next = new Promise<DeadLetter>((resolve) => node.deadLetters.once('deadLetter', resolve));
  const bounded = within(next, 5_000, 'a dead letter');
  bounded.catch(() => undefined); // awaited by the test; this only keeps an early failure from crashing Jest
  return bounded;
}

/**
 * After the attack: all three nodes run, the channel still carries a fresh message and a new channel opens
 * and carries one; Bob's echoer has received exactly `before` (what Alice sent that should have arrived, in
 * the order it arrived) and the two fresh ones, each from Alice; Alice received exactly her echoes.
 */
async function stillWorks(w: World, before: readonly string[]): Promise<void> {
  for (const node of [w.hub.node, w.bob.node, w.alice.node]) expect(node.isStopped).toBe(false);
  expect(await w.alice.echo(w.channel, 'fresh, same channel')).toBe('fresh, same channel');
  const fresh = await w.alice.open(w.toBob, w.bob.identity);
  expect(await w.alice.echo(fresh, 'fresh, new channel')).toBe('fresh, new channel');
  expect(w.bob.received).toEqual(
    [...before, 'fresh, same channel', 'fresh, new channel'].map((body) => ({
      body,
      from: w.alice.identity.identifier,
    })),
  );
  // Nothing reached Alice through her channel but the echoes her requests received.
  expect(w.channel.stats.messagesReceived).toBe(w.alice.echoes(w.channel));
}

describe('a hostile hub between Alice and Bob', () => {
  describe('flipping a byte', () => {
    it.each<Party>(['Bob', 'Alice'])(
      'in a data frame toward %s: dropped as DECRYPT_FAILED, counted and logged; the sender’s request times out',
      async (party) => {
        const w = await world();
        const flip = w.proxy.intercept({ match: toward(w, party, FrameType.DATA), tamper: { kind: 'flip' } });
        const victim = party === 'Bob' ? w.bobChannel : w.channel;
        const dropped = new Promise<SecureChannelError>((resolve) => victim.once('frameDropped', resolve));

        await expect(w.alice.echo(w.channel, 'tampered', LOST_MS)).rejects.toMatchObject({
          name: 'TimeoutError',
          code: 'TIMEOUT',
        });
        expect(await flip.matched()).toHaveLength(1);
        expect(await within(dropped, 1_000, 'frameDropped')).toMatchObject({
          name: 'SecureChannelError',
          code: 'DECRYPT_FAILED',
        });
        expect(victim.stats.dropped).toEqual({ ...NO_DROPS, decryptFailed: 1 });
        const node = party === 'Bob' ? w.bob : w.alice;
        expect(warnings(node, { code: 'DECRYPT_FAILED' }).map((entry) => entry.msg)).toEqual([
          'secure channel dropped a frame that does not authenticate',
        ]);
        // Toward Bob the message never arrived; toward Alice it arrived and only its echo was lost.
        await stillWorks(w, party === 'Bob' ? [] : ['tampered']);
      },
    );

    it.each([
      { frame: 'HELLO (message 1)', type: FrameType.HELLO, party: 'Bob' as Party, rejectedAtBob: 0 },
      { frame: 'message 2', type: FrameType.HANDSHAKE, party: 'Alice' as Party, rejectedAtBob: 0 },
      { frame: 'message 3', type: FrameType.HANDSHAKE, party: 'Bob' as Party, rejectedAtBob: 1 },
    ])(
      'in handshake $frame toward $party: the frame that does not verify is dropped, Bob’s timeout ends the handshake at both ends',
      async ({ type, party, rejectedAtBob }) => {
        const w = await world();
        const flip = w.proxy.intercept({ match: toward(w, party, type), tamper: { kind: 'flip' } });
        const failedAtBob = nextListenerEvent(w.bob.listener, 'handshakeFailed');

        const atAlice: unknown = await w.alice.open(w.toBob, w.bob.identity).catch((err: unknown) => err);
        const atBob = await failedAtBob;
        expect(await flip.matched()).toHaveLength(1);
        // Junk cannot end a handshake (anyone who learns the address could send it): the timeout decides,
        // and the side that timed out tells the other. A flipped HELLO shows at Alice, in message 2.
        expect(atBob).toMatchObject({ name: 'SecureChannelError', code: 'TIMEOUT' });
        expect(atAlice).toMatchObject({ name: 'SecureChannelError', code: 'REFUSED', reason: 'timeout' });
        expect(w.bob.listener.stats).toMatchObject({
          handshakesStarted: 2,
          channelsOpened: 1,
          handshakesFailed: 1,
          timedOut: 1,
          rejectedFrames: rejectedAtBob,
        });
        expect(warnings(w.bob, { code: atBob.code }).map((entry) => entry.msg)).toEqual([
          `secure channel handshake failed: ${atBob.message}`,
        ]);
        await stillWorks(w, []);
      },
    );
  });

  describe('spraying junk at a handshake in progress', () => {
    it.each<Party>(['Bob', 'Alice'])(
      'toward %s: a forged copy of the next handshake message is dropped and counted, the genuine one completes it',
      async (party) => {
        // Time enough to hold the genuine message back while the junk arrives, however loaded the machine.
        const w = await world({ handshakeTimeout: 10_000 });
        // Message 3 goes to Bob's responder, message 2 to Alice's initiator: hold the genuine one back and
        // send junk of the same type and length to the same address first.
        const hold = w.proxy.intercept({
          match: toward(w, party, FrameType.HANDSHAKE),
          tamper: { kind: 'hold' },
        });
        const opening = w.alice.open(w.toBob, w.bob.identity);
        const bobSide = nextListenerEvent(w.bob.listener, 'channelOpened');
        const [genuine] = await hold.matched();
        const junk = Uint8Array.from(genuine!.bytes); // a copy (bytes may be a Buffer, whose slice is a view)
        junk[junk.length - 1]! ^= 0x01;
        for (let i = 0; i < 3; i++) w.proxy.inject(genuine!.connection, 'fromTarget', junk);
        if (party === 'Bob') await waitFor(() => w.bob.listener.stats.rejectedFrames === 3);
        else await waitFor(() => warnings(w.alice, { code: 'HANDSHAKE_FAILED' }).length > 0);
        hold.release();
        const channel = await opening;
        await bobSide;
        expect(await w.alice.echo(channel, 'through the junk')).toBe('through the junk');
        expect(w.bob.listener.stats).toMatchObject({
          channelsOpened: 2,
          handshakesFailed: 0,
          rejectedFrames: party === 'Bob' ? 3 : 0,
        });
        await stillWorks(w, ['through the junk']);
      },
    );
  });

  describe('replaying a captured frame', () => {
    it('of data, toward either end: dropped as REPLAYED, nothing is delivered twice', async () => {
      const w = await world();
      const toBob = w.proxy.intercept({ match: toward(w, 'Bob', FrameType.DATA), tamper: { kind: 'pass' } });
      const toAlice = w.proxy.intercept({
        match: toward(w, 'Alice', FrameType.DATA),
        tamper: { kind: 'pass' },
      });
      expect(await w.alice.echo(w.channel, 'once')).toBe('once');
      const [request] = await toBob.matched();
      const [reply] = await toAlice.matched();

      w.proxy.replay(request!);
      w.proxy.replay(reply!);
      await waitFor(
        () => w.bobChannel.stats.dropped.replayed === 1 && w.channel.stats.dropped.replayed === 1,
      );
      expect(w.bobChannel.stats.dropped).toEqual({ ...NO_DROPS, replayed: 1 });
      expect(w.channel.stats.dropped).toEqual({ ...NO_DROPS, replayed: 1 });
      for (const node of [w.bob, w.alice]) {
        expect(warnings(node, { code: 'REPLAYED' }).map((entry) => entry.msg)).toEqual([
          expect.stringMatching(/^secure channel dropped a replayed frame \(nonce \d+\)$/),
        ]);
      }
      await stillWorks(w, ['once']);
    });

    it('of a HELLO: no second channel opens; the stray responder times out, Alice’s channel drops its frames', async () => {
      const w = await world();
      const hello = w.proxy.frames.find(toward(w, 'Bob', FrameType.HELLO))!;
      const failedAtBob = nextListenerEvent(w.bob.listener, 'handshakeFailed');

      w.proxy.replay(hello);
      // The responder answers the replayed HELLO; Alice's channel is open and takes only DATA frames.
      await waitFor(() => w.channel.stats.dropped.malformed === 1);
      expect(await failedAtBob).toMatchObject({ name: 'SecureChannelError', code: 'TIMEOUT' });
      expect(w.bob.listener.stats).toMatchObject({ handshakesStarted: 2, channelsOpened: 1, timedOut: 1 });
      // Its refusal notice on timing out is dropped the same way.
      await waitFor(() => w.channel.stats.dropped.malformed === 2);
      expect(w.channel.stats.dropped).toEqual({ ...NO_DROPS, malformed: 2 });
      expect(warnings(w.alice, { code: 'MALFORMED' }).map((entry) => entry.msg)).toEqual([
        'secure channel dropped a frame that is not DATA on an open channel',
        'secure channel dropped a frame that is not DATA on an open channel',
      ]);
      await stillWorks(w, []);
    });
  });

  describe('dropping frames', () => {
    it('of data toward Bob: the request times out, and Bob reports the gap once the next message arrives', async () => {
      const w = await world();
      const drop = w.proxy.intercept({ match: toward(w, 'Bob', FrameType.DATA), tamper: { kind: 'drop' } });
      const gap = new Promise<NonceGap>((resolve) => w.bobChannel.once('gap', resolve));

      await expect(w.alice.echo(w.channel, 'lost', LOST_MS)).rejects.toMatchObject({
        name: 'TimeoutError',
        code: 'TIMEOUT',
      });
      const [dropped] = await drop.matched();
      // Bob never saw it, so there is nothing dropped to count; the next frame shows the hole in the nonces.
      await stillWorks(w, []);
      const nonce = readU64(dropped!.body as Uint8Array, 1);
      expect(await within(gap, 1_000, 'the gap event')).toEqual({ from: nonce, to: nonce });
      expect(w.bobChannel.stats.missing).toEqual({ gaps: 1, frames: 1 });
      expect(w.bobChannel.stats.dropped).toEqual(NO_DROPS);
      expect(warnings(w.bob, { from: nonce, to: nonce }).map((entry) => entry.msg)).toEqual([
        `secure channel lost 1 frame(s) from the peer (nonces ${nonce}..${nonce}): never arrived`,
      ]);
    });

    it('of handshake message 2: both ends give up with TIMEOUT', async () => {
      const w = await world();
      const drop = w.proxy.intercept({
        match: toward(w, 'Alice', FrameType.HANDSHAKE),
        tamper: { kind: 'drop' },
      });
      const failedAtBob = nextListenerEvent(w.bob.listener, 'handshakeFailed');

      await expect(
        w.alice.open(w.toBob, w.bob.identity, { timeout: HANDSHAKE_TIMEOUT_MS }),
      ).rejects.toMatchObject({
        name: 'SecureChannelError',
        code: 'TIMEOUT',
      });
      expect(await failedAtBob).toMatchObject({ name: 'SecureChannelError', code: 'TIMEOUT' });
      expect(await drop.matched()).toHaveLength(1);
      expect(w.bob.listener.stats).toMatchObject({ handshakesStarted: 2, channelsOpened: 1, timedOut: 1 });
      await stillWorks(w, []);
    });
  });

  describe('reordering frames', () => {
    it('within the replay window: m1 held back and released after m2, m3 is delivered m1, m2, m3', async () => {
      const w = await world();
      const hold = w.proxy.intercept({ match: toward(w, 'Bob', FrameType.DATA), tamper: { kind: 'hold' } });
      // In force before the sends (the hold takes the first frame only): m2 and m3 may reach the proxy in
      // the same read as m1, before a rule added after `hold.matched()` could see them.
      const later = w.proxy.intercept({
        match: toward(w, 'Bob', FrameType.DATA),
        tamper: { kind: 'pass' },
        times: 2,
      });
      const echoes = ['m1', 'm2', 'm3'].map((text) => w.alice.echo(w.channel, text));
      await hold.matched();
      await later.matched(); // m2 and m3 went by and reached Bob, who holds them for m1
      await waitFor(() => w.bobChannel.stats.framesReordered === 2);
      expect(w.bob.received).toEqual([]);
      hold.release();
      expect(await Promise.all(echoes)).toEqual(['m1', 'm2', 'm3']);
      expect(w.bobChannel.stats.dropped).toEqual(NO_DROPS);
      expect(w.bobChannel.stats.missing).toEqual({ gaps: 0, frames: 0 });
      await stillWorks(w, ['m1', 'm2', 'm3']);
    });

    it('held back past the reorder timeout: reported as a gap, the later ones go on, the late frame is dropped as TOO_OLD', async () => {
      const w = await world();
      const hold = w.proxy.intercept({ match: toward(w, 'Bob', FrameType.DATA), tamper: { kind: 'hold' } });
      const gap = new Promise<NonceGap>((resolve) => w.bobChannel.once('gap', resolve));

      const stale = w.alice.echo(w.channel, 'stale', 5_000);
      stale.catch(() => undefined);
      const [held] = await hold.matched();
      const later = Array.from({ length: REPLAY_WINDOW + 1 }, (_, i) => `later ${i}`);
      for (const text of later) expect(await w.alice.echo(w.channel, text)).toBe(text);
      const nonce = readU64(held!.body as Uint8Array, 1);
      expect(await gap).toEqual({ from: nonce, to: nonce });
      hold.release();
      await waitFor(() => w.bobChannel.stats.dropped.tooOld === 1);
      expect(w.bobChannel.stats.dropped).toEqual({ ...NO_DROPS, tooOld: 1 });
      expect(w.bobChannel.stats.missing).toEqual({ gaps: 1, frames: 1 });
      expect(warnings(w.bob, { code: 'TOO_OLD' }).map((entry) => entry.msg)).toEqual([
        // REPLAY_WINDOW + 1 frames later it is past the window too; within it, it would be "arrived after
        // its gap was reported".
        `secure channel dropped a frame older than the replay window (nonce ${nonce})`,
      ]);
      await expect(stale).rejects.toMatchObject({ name: 'TimeoutError', code: 'TIMEOUT' });
      await stillWorks(w, later);
    });
  });

  describe('injecting plaintext', () => {
    it.each([
      {
        how: 'through the hub to Bob’s forwarder',
        frame: (w: World) => ({
          link: w.aliceLink,
          direction: 'toTarget' as const,
          onwardRoute: route(w.bob.forwarder.forwardingAddress, 'echoer'),
        }),
        // Bob's remote forwarder delivers only to its listener: it refuses before the echoer is reached.
        refusedBy: (w: World) => w.bob.forwarder.address.key,
        detail: (w: World) =>
          `remote forwarder ${w.bob.forwarder.address.key} delivers only to 0#listener, not along 0#echoer`,
      },
      {
        how: 'from the hub straight to Bob’s node',
        frame: (w: World) => ({
          link: w.bobLink,
          direction: 'fromTarget' as const,
          onwardRoute: route('echoer'),
        }),
        refusedBy: () => '0#echoer',
        detail: () => '0#echoer refused a message (transport-origin): it arrived from a transport connection',
      },
    ])(
      'toward Bob’s echoer $how: refused at Bob’s node as access-denied',
      async ({ frame, refusedBy, detail }) => {
        const w = await world();
        const { link, direction, onwardRoute } = frame(w);
        const crafted = encodeTransportMessage({
          onwardRoute,
          returnRoute: route('mallory'),
          payload: encodeBody('plaintext from the hub'),
        });
        const refused = nextDeadLetter(w.bob.node);

        w.proxy.inject(link, direction, crafted);
        const letter = await refused;
        expect(letter).toMatchObject({ reason: 'access-denied', address: refusedBy(w) });
        expect(letter.message.body).toBe('plaintext from the hub');
        expect(letter.detail).toBe(detail(w));
        expect(w.bob.node.deadLetters.countOf('access-denied')).toBe(1);
        expect(
          warnings(w.bob, { reason: 'access-denied', address: refusedBy(w) }).map((entry) => entry.msg),
        ).toEqual([`dead letter: ${letter.detail}`]);
        await stillWorks(w, []);
      },
    );

    it('toward Bob’s channel decryptor: a plaintext body is dropped as MALFORMED, a forged DATA frame as DECRYPT_FAILED', async () => {
      const w = await world();
      const data = w.proxy.intercept({ match: toward(w, 'Bob', FrameType.DATA), tamper: { kind: 'pass' } });
      expect(await w.alice.echo(w.channel, 'genuine')).toBe('genuine');
      // Where the hub sends Alice's frames on Bob's connection: Bob's forwarder, then his channel's decryptor.
      const [genuine] = await data.matched();
      const toDecryptor = genuine!.message!.onwardRoute;
      const forge = (body: unknown): Uint8Array =>
        encodeTransportMessage({
          onwardRoute: toDecryptor,
          returnRoute: route('mallory'),
          payload: encodeBody(body),
        });
      const forgedData = new Uint8Array(64);
      forgedData[0] = FrameType.DATA;
      forgedData[8] = 200; // a fresh nonce, so that only authentication can refuse it

      w.proxy.inject(w.bobLink, 'fromTarget', forge('plaintext for the decryptor'));
      w.proxy.inject(w.bobLink, 'fromTarget', forge(forgedData));
      await waitFor(
        () => w.bobChannel.stats.dropped.malformed + w.bobChannel.stats.dropped.decryptFailed === 2,
      );
      expect(w.bobChannel.stats.dropped).toEqual({ ...NO_DROPS, malformed: 1, decryptFailed: 1 });
      expect(w.bobChannel.stats.messagesReceived).toBe(1);
      await stillWorks(w, ['genuine']);
    });
  });
});
