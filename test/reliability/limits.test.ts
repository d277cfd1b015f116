import { randomBytes } from 'node:crypto';
import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { createSecureChannel } from '../../src/channel/create-secure-channel';
import { encodeHello } from '../../src/channel/frames';
import { createSecureChannelListener } from '../../src/channel';
import type { SecureChannel } from '../../src/channel/secure-channel';
import { secureChannelMemory } from '../../src/channel/channel-memory';
import { TrustEveryone } from '../../src/identity';
import { RemoteForwarder } from '../../src/services/remote-forwarder';
import { settledSample } from '../../reliability/lib/measure';
import { collectGarbage, waitFor } from '../helpers/async';
import { CapturingLogger } from '../helpers/capturing-logger';
import { newNode, stopNodes } from '../helpers/nodes';
import { Cleanup } from '../helpers/tcp-fixtures';
import { pair } from '../channel/helpers';
import { startAlice, startBob, startHub, toBob } from './fixtures';

const cleanup = new Cleanup();
afterEach(async () => {
  await cleanup.run();
  await stopNodes();
});

const MiB = 1024 * 1024;
/** A full-size DATA frame: type, nonce, and a 65535-byte Noise message. Only a message's last piece is smaller. */
const FULL_FRAME = 9 + 65_535;

/**
 * Makes the hop between Alice and Bob withhold the last piece of every chunked message (a DATA frame shorter
 * than a full one), so each stays partial at Bob, until `stop()`.
 */
function withholdLastPieces(p: Awaited<ReturnType<typeof pair>>): { stop(): void } {
  let starve = true;
  p.hop.transform = (entry) => {
    // The hop's and the test wire's own records would hold every frame.
    p.hop.seen.length = 0;
    p.wire.carried.length = 0;
    const frame = entry.body as Uint8Array;
    return starve && frame[0] === 4 && frame.length < FULL_FRAME ? [] : [entry.body];
  };
  return { stop: () => void (starve = false) };
}

function warnings(logger: CapturingLogger, text: string): number {
  return logger.at('warn').filter((entry) => entry.msg?.includes(text)).length;
}

/**
 * Limits under attack that test/transport and test/channel do not already drive end to end: each is hit,
 * the hit is counted and logged, and the node goes on serving others. (Connections per listener and per
 * remote, frame size, slow preambles and frames: test/transport/tcp-hostile-peers.test.ts; the pending
 * handshake cap with a black-hole hop: test/channel/handshake.test.ts; see docs/RELIABILITY.md.)
 */
describe('limits under attack', () => {
  it('bounds reassembly memory against a peer that never completes its chunked messages', async () => {
    const logger = new CapturingLogger();
    const p = await pair(newNode, { logger });
    const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
      trustPolicy: TrustEveryone,
      maxPartialMessages: 4,
      // Each withheld piece is a gap in the frames too: reported soon, so the next message goes on.
      reorderTimeout: 50,
    });
    const received: Uint8Array[] = [];
    await p.b.startWorker('sink', {
      handleMessage: (_ctx, msg) => void received.push(msg.body as Uint8Array),
    });
    const opened = new Promise<SecureChannel>((resolve) => listener.once('channelOpened', resolve));
    const channel = await createSecureChannel(p.actx, p.alice, p.toListener, { trustPolicy: TrustEveryone });
    const bobEnd = await opened;

    // The hop withholds the last piece of every chunked message: each stays partial at Bob.
    const starving = withholdLastPieces(p);
    collectGarbage();
    const before = await settledSample();
    for (let i = 0; i < 12; i++) await channel.send(p.actx, 'sink', new Uint8Array(MiB).fill(i));
    await waitFor(() => bobEnd.stats.dropped.evicted === 8, 10_000, 'eight partial messages to be given up');
    const during = await settledSample();

    expect(received).toHaveLength(0);
    // Twelve 1 MiB messages started, at most four kept: without the cap this would be 12 MiB.
    expect(during.arrayBuffers - before.arrayBuffers).toBeLessThan(5.5 * MiB);
    expect(warnings(logger, 'gave up a partial message')).toBeGreaterThan(0);

    starving.stop();
    await channel.send(p.actx, 'sink', new Uint8Array(MiB).fill(42));
    await waitFor(() => received.length === 1, 10_000, 'a complete message to be delivered');
    expect(received[0]!.length).toBe(MiB);
    expect(received[0]!.every((byte) => byte === 42)).toBe(true);
    expect(bobEnd.stats.missing).toEqual({ gaps: 12, frames: 12 });
  });

  it('bounds the reassembly memory of all channel ends of a node: 40 channels of incomplete messages', async () => {
    const p = await pair(newNode);
    const memory = secureChannelMemory(p.b);
    memory.limit = 8 * MiB;
    const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
      trustPolicy: TrustEveryone,
      reorderTimeout: 50,
    });
    const received: Uint8Array[] = [];
    await p.b.startWorker('sink', {
      handleMessage: (_ctx, msg) => void received.push(msg.body as Uint8Array),
    });
    const channels: SecureChannel[] = [];
    const ends: SecureChannel[] = [];
    listener.on('channelOpened', (end) => ends.push(end));
    for (let i = 0; i < 41; i++) {
      channels.push(await createSecureChannel(p.actx, p.alice, p.toListener, { trustPolicy: TrustEveryone }));
    }
    const starving = withholdLastPieces(p);
    collectGarbage();
    const before = await settledSample();
    // 40 channels each leave a 1 MiB message one piece short: 39 MiB held without a node-wide bound.
    for (const channel of channels.slice(1)) await channel.send(p.actx, 'sink', new Uint8Array(MiB).fill(1));
    const evicted = (): number => ends.reduce((sum, end) => sum + end.stats.dropped.evicted, 0);
    await waitFor(() => evicted() >= 30, 20_000, 'partial messages to be given up');
    const during = await settledSample();
    expect(memory.peak).toBeLessThanOrEqual(memory.limit);
    expect(during.arrayBuffers - before.arrayBuffers).toBeLessThan(12 * MiB);

    // The honest channel's complete message still fits: the largest holders make room.
    starving.stop();
    await channels[0]!.send(p.actx, 'sink', new Uint8Array(MiB).fill(42));
    await waitFor(() => received.length === 1, 10_000, 'a complete message to be delivered');
    expect(received[0]!.every((byte) => byte === 42)).toBe(true);
    expect(memory.used).toBeLessThanOrEqual(memory.limit);
  });

  it('caps handshakes pending per source behind a hub: 300 HELLOs from one client do not lock Alice out', async () => {
    const hub = await startHub(cleanup);
    const logger = new CapturingLogger();
    const bob = await startBob(cleanup, hub.address, {
      listener: { maxPendingHandshakesPerSource: 8, handshakeTimeout: 2_000 },
      logger,
    });
    const alice = await startAlice(cleanup);
    const to = toBob(hub.address, bob);
    const existing = await alice.open(to);

    // HELLOs with a random ephemeral key (any 32 bytes will do), all over the attacker's one connection to
    // the hub: each started responder waits for a third handshake message that never comes.
    const attacker = await startAlice(cleanup);
    const hello = (): Uint8Array => encodeHello('Noise_XX_25519_ChaChaPoly_SHA256', randomBytes(32));
    for (let i = 0; i < 300; i++) await attacker.ctx.send(to, hello());
    await waitFor(() => bob.listener.stats.refusedBusy === 292, 20_000, '292 HELLOs to be refused');
    expect(bob.listener.pendingHandshakes).toBe(8);
    expect(warnings(logger, 'maxPendingHandshakesPerSource')).toBeGreaterThan(0);

    // Alice, another client of the hub, is another source: served during the flood, old channel and new.
    const echo = await alice.ctx.request(route(existing, 'echoer'), 'still here', { timeout: 5_000 });
    expect(echo.body).toBe('still here');
    const fresh = await alice.open(to);
    expect((await alice.ctx.request(route(fresh, 'echoer'), 'hello', { timeout: 5_000 })).body).toBe('hello');
    expect(bob.listener.stats).toMatchObject({ refusedBusy: 292, channelsOpened: 2 });

    // The stalled responders give up after handshakeTimeout, counted.
    await waitFor(() => bob.listener.stats.timedOut === 8, 10_000, 'the stalled handshakes to time out');
    expect(bob.listener.pendingHandshakes).toBe(0);
  });

  it('caps handshakes pending at a listener: when full, a newcomer evicts the oldest of the busiest source', async () => {
    const hub = await startHub(cleanup);
    const bob = await startBob(cleanup, hub.address, {
      listener: { maxPendingHandshakes: 4, maxPendingHandshakesPerSource: 4, handshakeTimeout: 5_000 },
    });
    const alice = await startAlice(cleanup);
    const to = toBob(hub.address, bob);
    const attacker = await startAlice(cleanup);
    const hello = (): Uint8Array => encodeHello('Noise_XX_25519_ChaChaPoly_SHA256', randomBytes(32));
    for (let i = 0; i < 10; i++) await attacker.ctx.send(to, hello());
    await waitFor(() => bob.listener.stats.refusedBusy === 6, 10_000, 'six HELLOs to be refused');
    expect(bob.listener.pendingHandshakes).toBe(4);

    // Every slot is the attacker's; Alice's HELLO takes the attacker's oldest, not a refusal.
    const channel = await alice.open(to);
    expect((await alice.ctx.request(route(channel, 'echoer'), 'in', { timeout: 5_000 })).body).toBe('in');
    expect(bob.listener.stats).toMatchObject({ handshakesEvicted: 1, channelsOpened: 1, refusedBusy: 6 });
    expect(bob.listener.pendingHandshakes).toBe(3);
  });

  it('caps the forwarders of a hub: one more is refused LIMIT_REACHED, the hub keeps forwarding', async () => {
    const hub = await startHub(cleanup, { forwarding: { maxForwarders: 2 } });
    const bob = await startBob(cleanup, hub.address);
    const clients = await Promise.all([startAlice(cleanup), startAlice(cleanup)]);
    const register = (ctx: (typeof clients)[number]['ctx']): Promise<RemoteForwarder> =>
      RemoteForwarder.create(ctx, route([TCP, hub.address]), 'listener', { heartbeatIntervalMs: 3_600_000 });
    const second = await register(clients[0]!.ctx);
    cleanup.add(() => second.stop());

    await expect(register(clients[1]!.ctx)).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
    expect(hub.service.forwarders()).toHaveLength(2);

    const alice = await startAlice(cleanup);
    const channel = await alice.open(toBob(hub.address, bob));
    expect((await alice.ctx.request(route(channel, 'echoer'), 'through', { timeout: 2_000 })).body).toBe(
      'through',
    );

    await second.stop(); // unregisters: room for one more
    const third = await register(clients[1]!.ctx);
    cleanup.add(() => third.stop());
    expect(hub.service.forwarders()).toHaveLength(2);
  });
});
