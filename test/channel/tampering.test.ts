import {
  route,
  TrustEveryone,
  TrustIdentifier,
  createSecureChannel,
  createSecureChannelListener,
  type SecureChannel,
  type SecureChannelError,
  type SecureChannelListenerOptions,
  type SecureChannelOptions,
} from '../../src';
import { untilAny, waitFor } from '../helpers/async';
import { newNode, stopNodes } from '../helpers/nodes';
import { channelError, channelWorkers, flipped, nextEvent, pair, type HopEntry, type Pair } from './helpers';

afterEach(stopNodes);

interface Opened {
  readonly p: Pair;
  readonly channel: SecureChannel;
  readonly bobChannel: SecureChannel;
  /** Whether a hop entry is a DATA frame on its way to Bob. */
  readonly toBob: (entry: HopEntry) => boolean;
}

/** Alice's channel to Bob through the hop; options for either end. */
async function opened(
  listenerOptions: Partial<SecureChannelListenerOptions> = {},
  channelOptions: Partial<SecureChannelOptions> = {},
): Promise<Opened> {
  const p = await pair(newNode);
  const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
    trustPolicy: TrustIdentifier(p.alice.identifier),
    ...listenerOptions,
  });
  const bobSide = nextEvent<SecureChannel>(listener, 'channelOpened');
  const channel = await createSecureChannel(p.actx, p.alice, p.toListener, {
    trustPolicy: TrustIdentifier(p.bob.identifier),
    timeout: 5_000,
    ...channelOptions,
  });
  const bobChannel = await bobSide;
  const toBob = (entry: HopEntry): boolean =>
    entry.body instanceof Uint8Array &&
    entry.body[0] === 4 &&
    entry.onwardRoute.recipient?.equals(bobChannel.decryptorAddress) === true;
  return { p, channel, bobChannel, toBob };
}

function totalDropped(channel: SecureChannel): number {
  return Object.values(channel.stats.dropped).reduce((a, b) => a + b, 0);
}

/**
 * Waits until `condition` holds, checking it whenever Bob's echoer receives a message or Bob's channel
 * drops a frame: what every condition below depends on.
 */
function settled(o: Opened, condition: () => boolean): Promise<void> {
  return untilAny(
    [
      [o.p.bobEchoer, 'received'],
      [o.bobChannel, 'frameDropped'],
    ],
    condition,
  );
}

/** Sends `bodies` to Bob's echoer through `channel`, each once it is queued. */
async function sendAll(o: Opened, bodies: readonly string[]): Promise<void> {
  for (const body of bodies) await o.p.actx.send(route(o.channel, 'echoer'), body);
}

describe('SecureChannel handshake tampering', () => {
  it.each([
    [0, 'HELLO (message 1)'],
    [1, 'message 2'],
    [2, 'message 3'],
  ])(
    'a flipped byte in handshake frame %i (%s) does not verify: it is dropped, the timeout ends both ends',
    async (target) => {
      const p = await pair(newNode);
      const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
        trustPolicy: TrustEveryone,
        handshakeTimeout: 500,
      });
      let handshakeFrames = 0;
      p.hop.transform = (entry) => {
        const body = entry.body as Uint8Array;
        if ((body[0] === 1 || body[0] === 2) && handshakeFrames++ === target) {
          return [flipped(body, body.length - 1)];
        }
        return [body];
      };
      const failed = nextEvent<SecureChannelError>(listener, 'handshakeFailed');
      const atAlice = await channelError(
        createSecureChannel(p.actx, p.alice, p.toListener, { trustPolicy: TrustEveryone, timeout: 5_000 }),
      );
      const atBob = await failed;
      // A HELLO's ephemeral key cannot be checked, so a flipped one shows only at Alice, in message 2.
      expect(atBob.code).toBe('TIMEOUT');
      expect(atAlice).toMatchObject({ code: 'REFUSED', reason: 'timeout' });
      expect(listener.stats).toMatchObject({
        channelsOpened: 0,
        timedOut: 1,
        rejectedFrames: target === 2 ? 1 : 0,
      });
      if (target === 2) expect(atBob.message).toMatch(/1 frame\(s\) that did not verify were dropped/);
      await untilAny(
        [
          [p.a, 'workerStopped'],
          [p.b, 'workerStopped'],
        ],
        () => channelWorkers(p.a).length === 0 && channelWorkers(p.b).length === 0,
      );
    },
  );

  it.each([
    [1, 'message 2, at the initiator'],
    [2, 'message 3, at the responder'],
  ])(
    'a forged copy of handshake frame %i (%s) arriving first is dropped; the genuine one completes the handshake',
    async (target) => {
      const p = await pair(newNode);
      const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
        trustPolicy: TrustEveryone,
      });
      let handshakeFrames = 0;
      p.hop.transform = (entry) => {
        const body = entry.body as Uint8Array;
        if ((body[0] === 1 || body[0] === 2) && handshakeFrames++ === target) {
          // Junk of the right type and length first, then the genuine frame.
          return [flipped(body, body.length - 1), body];
        }
        return [body];
      };
      const channel = await createSecureChannel(p.actx, p.alice, p.toListener, {
        trustPolicy: TrustEveryone,
        timeout: 5_000,
      });
      expect(listener.stats).toMatchObject({ channelsOpened: 1, rejectedFrames: target === 2 ? 1 : 0 });
      await channel.send(p.actx, 'echoer', 'through');
      expect((await p.actx.receive({ timeout: 5_000 })).body).toBe('through');
    },
  );
});

describe('SecureChannel data tampering', () => {
  it('drops flipped data frames, counts them, reports the gaps and delivers only genuine messages', async () => {
    const o = await opened({ reorderTimeout: 100 });
    const dropped: SecureChannelError[] = [];
    o.bobChannel.on('frameDropped', (e) => dropped.push(e));
    // Every other frame to Bob gets one bit flipped: in the type, the nonce, the ciphertext, the tag.
    const positions = [0, 8, 9, -1];
    let frames = 0;
    o.p.hop.transform = (entry) => {
      if (!o.toBob(entry)) return [entry.body];
      const body = entry.body as Uint8Array;
      const n = frames++;
      if (n % 2 === 0) return [body];
      const position = positions[(n - 1) / 2]!;
      return [flipped(body, position < 0 ? body.length + position : position)];
    };
    const bodies = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'];
    await sendAll(o, bodies);
    await settled(o, () => o.p.bobEchoer.received.length === 4 && totalDropped(o.bobChannel) === 4);
    expect(o.p.bobEchoer.bodies).toEqual(['m0', 'm2', 'm4', 'm6']);
    expect(o.bobChannel.stats.dropped.malformed).toBe(1); // the type byte: not a DATA frame any more
    expect(o.bobChannel.stats.dropped.decryptFailed + o.bobChannel.stats.dropped.replayed).toBe(3);
    expect(dropped).toHaveLength(4);
    // m1, m3 and m5 are reported missing once a later frame arrived and they did not; m7, the last, cannot be.
    expect(o.bobChannel.stats.missing).toEqual({ gaps: 3, frames: 3 });
    // The echoes of the genuine ones came back intact.
    const echoes = [];
    for (let i = 0; i < 4; i++) echoes.push((await o.p.actx.receive({ timeout: 5_000 })).body);
    expect(echoes).toEqual(['m0', 'm2', 'm4', 'm6']);
  });

  it('never delivers a corrupted message: random bit flips over many frames', async () => {
    const o = await opened({ reorderTimeout: 100 });
    let seed = 0x2545f491;
    const random = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    let tampered = 0;
    o.p.hop.transform = (entry) => {
      if (!o.toBob(entry) || random(2) === 0) return [entry.body];
      tampered++;
      const body = entry.body as Uint8Array;
      return [flipped(body, 1 + random(body.length - 1))]; // anything after the type byte
    };
    const bodies = Array.from({ length: 200 }, (_, i) => `message ${i} `.repeat(1 + (i % 7)));
    await sendAll(o, bodies);
    await settled(o, () => o.p.bobEchoer.received.length + totalDropped(o.bobChannel) === 200);
    expect(totalDropped(o.bobChannel)).toBe(tampered);
    const delivered = o.p.bobEchoer.bodies as string[];
    expect(delivered.length).toBe(200 - tampered);
    // In sending order, and every lost one but a trailing run is reported.
    expect(delivered).toEqual(bodies.filter((body) => delivered.includes(body)));
    expect(new Set(delivered).size).toBe(delivered.length);
    const last = bodies.indexOf(delivered.at(-1)!);
    expect(o.bobChannel.stats.missing.frames).toBe(last + 1 - delivered.length);
  });

  it('rejects a replayed data frame and a replayed handshake frame', async () => {
    const o = await opened();
    await sendAll(o, ['once']);
    await settled(o, () => o.p.bobEchoer.received.length === 1);
    const frame = o.p.hop.seen.filter(o.toBob).at(-1)!;
    await o.p.hop.inject(frame);
    await settled(o, () => o.bobChannel.stats.dropped.replayed === 1);
    // The last handshake message, replayed at the open channel, is not DATA: dropped too.
    const message3 = o.p.hop.seen.find(
      (e) =>
        (e.body as Uint8Array)[0] === 2 && e.onwardRoute.recipient?.equals(o.bobChannel.decryptorAddress),
    )!;
    await o.p.hop.inject(message3);
    await settled(o, () => o.bobChannel.stats.dropped.malformed === 1);
    await sendAll(o, ['twice']);
    await settled(o, () => o.p.bobEchoer.received.length === 2);
    expect(o.p.bobEchoer.bodies).toEqual(['once', 'twice']);
  });

  it('delivers frames reordered inside the window in sending order', async () => {
    const o = await opened();
    const held: HopEntry[] = [];
    o.p.hop.transform = (entry) => (o.toBob(entry) ? (held.push(entry), []) : [entry.body]);
    await sendAll(o, ['m0', 'm1', 'm2', 'm3', 'm4']);
    await waitFor(() => held.length === 5);
    for (const i of [3, 1, 4, 0, 2]) await o.p.hop.inject(held[i]!);
    await settled(o, () => o.p.bobEchoer.received.length === 5);
    expect(o.p.bobEchoer.bodies).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(totalDropped(o.bobChannel)).toBe(0);
    expect(o.bobChannel.stats.missing).toEqual({ gaps: 0, frames: 0 });
  });

  it('reassembles a chunked message whose pieces arrive in reverse order', async () => {
    const o = await opened();
    const held: HopEntry[] = [];
    o.p.hop.transform = (entry) => (o.toBob(entry) ? (held.push(entry), []) : [entry.body]);
    const big = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256);
    await o.channel.send(o.p.actx, 'echoer', big);
    await waitFor(() => held.length === 5);
    for (const entry of held.reverse()) await o.p.hop.inject(entry);
    const echo = await o.p.actx.receive<Uint8Array>({ timeout: 5_000 });
    expect(Buffer.from(echo.body).equals(Buffer.from(big))).toBe(true);
  });

  it('rejects a frame that falls behind the replay window', async () => {
    const o = await opened({ replayWindow: 16 });
    const held: HopEntry[] = [];
    o.p.hop.transform = (entry) =>
      o.toBob(entry) && held.length === 0 ? (held.push(entry), []) : [entry.body];
    const bodies = Array.from({ length: 20 }, (_, i) => `m${i}`);
    await sendAll(o, bodies);
    await settled(o, () => o.p.bobEchoer.received.length === 19);
    await o.p.hop.inject(held[0]!);
    await settled(o, () => o.bobChannel.stats.dropped.tooOld === 1);
    expect(o.p.bobEchoer.bodies).toEqual(bodies.slice(1));
  });
});

describe('SecureChannel rekeying', () => {
  it('rekeys every N frames and still accepts frames reordered across epoch boundaries', async () => {
    // Alice announces rekeyInterval 4: her frames 0-3 use epoch 0's key, 4-7 epoch 1's, 8-11 epoch 2's.
    const o = await opened({}, { rekeyInterval: 4 });
    const held: HopEntry[] = [];
    o.p.hop.transform = (entry) => (o.toBob(entry) ? (held.push(entry), []) : [entry.body]);
    const bodies = Array.from({ length: 12 }, (_, i) => `m${i}`);
    await sendAll(o, bodies);
    await waitFor(() => held.length === 12);
    const order = [0, 1, 2, 4, 3, 5, 8, 6, 7, 9, 11, 10];
    for (const i of order) await o.p.hop.inject(held[i]!);
    await settled(o, () => o.p.bobEchoer.received.length === 12);
    // Delivered in sending order, whatever order the epochs' frames arrived in.
    expect(o.p.bobEchoer.bodies).toEqual(bodies);
    expect(totalDropped(o.bobChannel)).toBe(0);

    // Many more epochs, both ways, in order.
    o.p.hop.transform = (entry) => [entry.body];
    const more = Array.from({ length: 50 }, (_, i) => `n${i}`);
    await sendAll(o, more);
    await settled(o, () => o.p.bobEchoer.received.length === 62);
    for (let i = 0; i < 62; i++) await o.p.actx.receive({ timeout: 5_000 });
    expect(o.channel.stats.framesReceived).toBe(63); // 62 echoes and the ACCEPTED frame
  });

  it('drops a frame of an epoch older than the previous one', async () => {
    const o = await opened({}, { rekeyInterval: 4 });
    const held: HopEntry[] = [];
    let frames = 0;
    o.p.hop.transform = (entry) => {
      if (o.toBob(entry) && frames++ === 1) {
        held.push(entry);
        return [];
      }
      return [entry.body];
    };
    await sendAll(
      o,
      Array.from({ length: 12 }, (_, i) => `m${i}`),
    );
    await settled(o, () => o.p.bobEchoer.received.length === 11);
    await o.p.hop.inject(held[0]!); // nonce 1, epoch 0, while Bob is in epoch 2
    await settled(o, () => o.bobChannel.stats.dropped.tooOld === 1);
    expect(o.p.bobEchoer.bodies).not.toContain('m1');
  });
});
