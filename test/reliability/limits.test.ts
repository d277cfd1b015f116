import { randomBytes } from 'node:crypto';
import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { createSecureChannel } from '../../src/channel/create-secure-channel';
import { encodeHello } from '../../src/channel/frames';
import { createSecureChannelListener } from '../../src/channel/secure-channel-listener';
import type { SecureChannel } from '../../src/channel/secure-channel';
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
    });
    const received: Uint8Array[] = [];
    await p.b.startWorker('sink', {
      handleMessage: (_ctx, msg) => void received.push(msg.body as Uint8Array),
    });
    const opened = new Promise<SecureChannel>((resolve) => listener.once('channelOpened', resolve));
    const channel = await createSecureChannel(p.actx, p.alice, p.toListener, { trustPolicy: TrustEveryone });
    const bobEnd = await opened;

    // The hop withholds the last piece of every chunked message: each stays partial at Bob.
    let starve = true;
    p.hop.transform = (entry) => {
      // The hop's and the test wire's own records would hold every frame.
      p.hop.seen.length = 0;
      p.wire.carried.length = 0;
      const frame = entry.body as Uint8Array;
      return starve && frame[0] === 4 && frame.length < FULL_FRAME ? [] : [entry.body];
    };
    collectGarbage();
    const before = await settledSample();
    for (let i = 0; i < 12; i++) await channel.send(p.actx, 'sink', new Uint8Array(MiB).fill(i));
    await waitFor(() => bobEnd.stats.dropped.evicted === 8, 10_000, 'eight partial messages to be given up');
    const during = await settledSample();

    expect(received).toHaveLength(0);
    // Twelve 1 MiB messages started, at most four kept: without the cap this would be 12 MiB.
    expect(during.arrayBuffers - before.arrayBuffers).toBeLessThan(5.5 * MiB);
    expect(warnings(logger, 'gave up a partial message')).toBeGreaterThan(0);

    starve = false;
    await channel.send(p.actx, 'sink', new Uint8Array(MiB).fill(42));
    await waitFor(() => received.length === 1, 10_000, 'a complete message to be delivered');
    expect(received[0]!.length).toBe(MiB);
    expect(received[0]!.every((byte) => byte === 42)).toBe(true);
  });

  it('caps handshakes pending at a listener behind a hub: a HELLO flood is refused busy, others are served', async () => {
    const hub = await startHub(cleanup);
    const logger = new CapturingLogger();
    const bob = await startBob(cleanup, hub.address, {
      listener: { maxPendingHandshakes: 4, handshakeTimeout: 1_000 },
      logger,
    });
    const alice = await startAlice(cleanup);
    const to = toBob(hub.address, bob);
    const existing = await alice.open(to);

    // HELLOs with a random ephemeral key (any 32 bytes will do): each starts a responder that waits for a
    // third handshake message that never comes.
    const attacker = await startAlice(cleanup);
    const hello = (): Uint8Array => encodeHello('Noise_XX_25519_ChaChaPoly_SHA256', randomBytes(32));
    for (let i = 0; i < 10; i++) await attacker.ctx.send(to, hello());
    await waitFor(() => bob.listener.stats.refusedBusy === 6, 5_000, 'six HELLOs to be refused');
    expect(bob.listener.pendingHandshakes).toBe(4);

    // An open channel is not a handshake: it is served throughout; a new one is refused at once, and says why.
    const echo = await alice.ctx.request(route(existing, 'echoer'), 'still here', { timeout: 2_000 });
    expect(echo.body).toBe('still here');
    await expect(alice.open(to)).rejects.toMatchObject({ code: 'REFUSED', reason: 'busy' });
    expect(warnings(logger, 'maxPendingHandshakes')).toBeGreaterThan(0);

    // The stalled responders give up after handshakeTimeout, counted, and the listener accepts again.
    await waitFor(() => bob.listener.stats.timedOut === 4, 5_000, 'the stalled handshakes to time out');
    expect(bob.listener.pendingHandshakes).toBe(0);
    const fresh = await alice.open(to);
    expect((await alice.ctx.request(route(fresh, 'echoer'), 'hello', { timeout: 2_000 })).body).toBe('hello');
    expect(bob.listener.stats).toMatchObject({ refusedBusy: 7, timedOut: 4 });
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
