import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { createSecureChannel } from '../../src/channel/create-secure-channel';
import { createSecureChannelListener } from '../../src/channel';
import type { CloseReason, SecureChannel } from '../../src/channel/secure-channel';
import { TrustEveryone } from '../../src/identity';
import { DeliveryFailureNotice } from '../../src/core/delivery-failure';
import { waitFor, within } from '../helpers/async';
import { scaled } from '../helpers/slowdown';
import { HostileProxy } from '../helpers/hostile-proxy';
import { newNode, stopNodes } from '../helpers/nodes';
import { Cleanup, startEchoer, startTcpNode } from '../helpers/tcp-fixtures';
import { channelWorkers, newIdentity, nextEvent, pair } from '../channel/helpers';

const cleanup = new Cleanup();
afterEach(async () => {
  await cleanup.run();
  await stopNodes();
});

/** Test-sized liveness: PING after 250 ms of silence, give up after 1.5 s. */
const LIVENESS = { keepaliveInterval: 250, peerTimeout: 1_500 } as const;

/** Resolves with the close reason and how long after `since` it came; fails after `ms`. */
async function closedWithin(
  channel: SecureChannel,
  since: number,
  ms: number,
): Promise<[CloseReason, number]> {
  const reason = await within(channel.closed(), ms, 'the channel close');
  return [reason, performance.now() - since];
}

describe('Channel liveness', () => {
  it('notices a silent partition at both ends within the peer timeout, and fails pending requests at once', async () => {
    const bob = await startTcpNode(cleanup);
    await startEchoer(bob.node, 'echoer', false);
    const listener = await createSecureChannelListener(bob.ctx, await newIdentity(), 'listener', {
      trustPolicy: TrustEveryone,
      ...LIVENESS,
    });
    const proxy = await HostileProxy.start(bob.address);
    cleanup.add(() => proxy.close());
    const alice = await startTcpNode(cleanup, { listen: false });
    const bobSide = nextEvent<SecureChannel>(listener, 'channelOpened');
    const channel = await createSecureChannel(
      alice.ctx,
      await newIdentity(),
      route([TCP, proxy.address], 'listener'),
      {
        trustPolicy: TrustEveryone,
        ...LIVENESS,
      },
    );
    const bobChannel = await bobSide;
    // Idle but alive: PINGs and PONGs keep both ends open well past the peer timeout.
    const alive = performance.now();
    while (performance.now() - alive < 2 * LIVENESS.peerTimeout) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(channel.isClosed).toBe(false);
    expect(bobChannel.isClosed).toBe(false);
    expect(channel.stats.pingsSent + bobChannel.stats.pingsSent).toBeGreaterThan(0);
    await expect(
      alice.ctx.request(route(channel, 'echoer'), 'before', { timeout: 10_000 }),
    ).resolves.toMatchObject({
      body: 'before',
    });

    // The proxy stops forwarding in both directions; no connection closes.
    proxy.intercept({ match: () => true, tamper: { kind: 'drop' }, times: Infinity });
    const cut = performance.now();
    const closedEvent = nextEvent<CloseReason>(channel, 'closed', 10_000);
    const pending = alice.ctx.request(route(channel, 'echoer'), 'lost', { timeout: 30_000 }).then(
      () => undefined,
      (error: Error) => ({ error, at: performance.now() }),
    );

    const [aliceReason, aliceAfter] = await closedWithin(channel, cut, 10_000);
    const [bobReason, bobAfter] = await closedWithin(bobChannel, cut, 10_000);
    expect(aliceReason).toBe('unresponsive');
    expect(bobReason).toBe('unresponsive');
    expect(await closedEvent).toBe('unresponsive');
    expect(channel.closeError).toMatchObject({ name: 'SecureChannelError', code: 'PEER_UNRESPONSIVE' });
    // Within the configured time (plus one check period, and slack for this loaded machine), not before it.
    for (const after of [aliceAfter, bobAfter]) {
      expect(after).toBeGreaterThanOrEqual(LIVENESS.peerTimeout - 2 * LIVENESS.keepaliveInterval);
      expect(after).toBeLessThan(LIVENESS.peerTimeout + 3_000);
    }
    // The request in flight failed with the cause the moment the channel closed, not at its 30 s timeout.
    const failed = await within(pending, 1_000, 'the pending request');
    expect(failed?.error).toMatchObject({ name: 'NodeError', code: 'PEER_UNRESPONSIVE' });
    expect(failed!.at - cut).toBeLessThan(aliceAfter + 500);
    // Later sends through it are refused with the same cause.
    await expect(
      alice.ctx.request(route(channel, 'echoer'), 'after', { timeout: 30_000 }),
    ).rejects.toMatchObject({
      code: 'PEER_UNRESPONSIVE',
    });
  });

  it('closes every channel of a vanished peer at the listener (no CLOSE ever comes)', async () => {
    const p = await pair(newNode);
    const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
      trustPolicy: TrustEveryone,
      ...LIVENESS,
    });
    const channels: SecureChannel[] = [];
    for (let i = 0; i < 20; i++) {
      channels.push(
        await createSecureChannel(p.actx, p.alice, p.toListener, { trustPolicy: TrustEveryone, ...LIVENESS }),
      );
    }
    expect(listener.channels.size).toBe(20);
    p.wire.tap = () => []; // Alice's node vanishes from the wire
    const cut = performance.now();
    const bobChannels = [...listener.channels];
    const reasons = await within(
      Promise.all(bobChannels.map((c) => c.closed())),
      10_000,
      "Bob's channels closing",
    );
    expect(new Set(reasons)).toEqual(new Set(['unresponsive']));
    expect(performance.now() - cut).toBeLessThan(LIVENESS.peerTimeout + 3_000);
    expect(listener.channels.size).toBe(0);
    await within(Promise.all(channels.map((c) => c.closed())), 10_000, "Alice's channels closing");
  });

  it("a hop's plain notice makes the channel probe its peer and close long before the peer timeout", async () => {
    const p = await pair(newNode);
    const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
      trustPolicy: TrustEveryone,
    });
    const bobSide = nextEvent<SecureChannel>(listener, 'channelOpened');
    const channel = await createSecureChannel(p.actx, p.alice, p.toListener, {
      trustPolicy: TrustEveryone,
      keepaliveInterval: 300,
      peerTimeout: 60_000,
    });
    // Bob's end vanishes without a CLOSE: his node now drops Alice's frames (no route) and says so.
    await p.b.stopWorker((await bobSide).decryptorAddress);
    const sent = performance.now();
    const pending = p.actx.request(route(channel, 'echoer'), 'into the void', { timeout: 30_000 });
    await expect(within(pending, 5_000, 'the request')).rejects.toMatchObject({ code: 'PEER_UNRESPONSIVE' });
    expect(channel.closeReason).toBe('unresponsive');
    expect(channel.stats.routeNotices).toBeGreaterThanOrEqual(1);
    expect(performance.now() - sent).toBeLessThan(5_000); // not the 60 s peer timeout
  });

  it('a forged plain notice alone cannot close a live channel', async () => {
    const p = await pair(newNode);
    await createSecureChannelListener(p.bctx, p.bob, 'listener', { trustPolicy: TrustEveryone });
    const channel = await createSecureChannel(p.actx, p.alice, p.toListener, {
      trustPolicy: TrustEveryone,
      keepaliveInterval: 200,
    });
    await p.actx.send(route(channel.decryptorAddress), new DeliveryFailureNotice('NO_ROUTE'));
    await waitFor(() => channel.stats.routeNotices === 1, 2_000, 'the notice to arrive');
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // several probe periods
    expect(channel.isClosed).toBe(false);
    expect(channel.stats.pingsSent).toBeGreaterThanOrEqual(1);
    await expect(
      p.actx.request(route(channel, 'echoer'), 'still here', { timeout: 5_000 }),
    ).resolves.toMatchObject({
      body: 'still here',
    });
  });

  it("a CONGESTED notice holds that channel's sends until the peer answers a PING, and no other channel's", async () => {
    const p = await pair(newNode);
    await createSecureChannelListener(p.bctx, p.bob, 'listener', { trustPolicy: TrustEveryone });
    const open = (): Promise<SecureChannel> =>
      createSecureChannel(p.actx, p.alice, p.toListener, {
        trustPolicy: TrustEveryone,
        keepaliveInterval: 60_000,
      });
    const [held, other] = [await open(), await open()];
    // A plain notice, as a hub sends when the peer's queue there is full (anyone on the route could forge it).
    await p.actx.send(route(held.decryptorAddress), new DeliveryFailureNotice('CONGESTED'));
    await waitFor(() => held.stats.congestionHolds === 1, 2_000, 'the hold');
    const request = p.actx.request(route(held, 'echoer'), 'after the PONG', { timeout: 5_000 });
    await expect(
      p.actx.request(route(other, 'echoer'), 'not held', { timeout: 5_000 }),
    ).resolves.toMatchObject({ body: 'not held' });
    // The peer answers the PING: the hold ends, and the held request goes on.
    await expect(request).resolves.toMatchObject({ body: 'after the PONG' });
    expect(held.stats.pingsSent).toBeGreaterThanOrEqual(1);
    expect(held.isClosed).toBe(false);
    expect(other.stats.congestionHolds).toBe(0);
  });

  it('closes a channel that carried no message for idleTimeout (keepalives do not count)', async () => {
    const p = await pair(newNode);
    const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
      trustPolicy: TrustEveryone,
    });
    const bobSide = nextEvent<SecureChannel>(listener, 'channelOpened');
    const channel = await createSecureChannel(p.actx, p.alice, p.toListener, {
      trustPolicy: TrustEveryone,
      keepaliveInterval: 100,
      idleTimeout: 600,
    });
    const opened = performance.now();
    expect(await within(channel.closed(), 5_000, 'the idle close')).toBe('idle');
    expect(performance.now() - opened).toBeGreaterThanOrEqual(500);
    // Alice heard nothing for 100 ms at a time, so she PINGed and Bob answered: frames flowed, yet no message.
    expect(channel.stats.pingsSent).toBeGreaterThan(0);
    expect(await within((await bobSide).closed(), 5_000, "Bob's close")).toBe('remote');
  });
});

describe('A channel whose connection closes', () => {
  it('closes at once with CONNECTION_LOST and fails its pending requests with it', async () => {
    const bob = await startTcpNode(cleanup);
    await bob.node.startWorker('sink', { handleMessage: () => undefined }); // never replies
    await createSecureChannelListener(bob.ctx, await newIdentity(), 'listener', {
      trustPolicy: TrustEveryone,
    });
    const alice = await startTcpNode(cleanup, { listen: false });
    const channel = await createSecureChannel(
      alice.ctx,
      await newIdentity(),
      route([TCP, bob.address], 'listener'),
      {
        trustPolicy: TrustEveryone,
      },
    );
    const sent = channel.stats.framesSent;
    const pending = alice.ctx.request(route(channel, 'sink'), 'waiting', { timeout: 30_000 });
    pending.catch(() => undefined);
    await waitFor(() => channel.stats.framesSent > sent, 5_000, 'the request to leave through the channel');
    const cut = performance.now();
    await alice.tcp.disconnect(bob.address);
    expect(await within(channel.closed(), 3_000, 'the channel close')).toBe('failed');
    expect(channel.closeError).toMatchObject({ code: 'CONNECTION_LOST' });
    await expect(within(pending, 3_000, 'the pending request')).rejects.toMatchObject({
      name: 'NodeError',
      code: 'CONNECTION_LOST',
    });
    expect(performance.now() - cut).toBeLessThan(3_000);
  });
});

describe('TCP connection liveness', () => {
  it('closes both connections PEER_UNRESPONSIVE across a silent partition; an idle live one stays open', async () => {
    // A peer timeout a loaded machine's stalls cannot reach by themselves (scaled by the measured slowdown).
    // Nothing vouches for Alice's connection (no forwarder, no channel): on a loaded machine the idle phase
    // outlasted the hub's 30 s unvouched timeout, which closed it first (TIMEOUT), so that one is off here.
    const tcp = { pingIntervalMs: 200, peerTimeoutMs: scaled(2_000), unvouchedTimeoutMs: 0 };
    const hub = await startTcpNode(cleanup, { tcp });
    await startEchoer(hub.node);
    const proxy = await HostileProxy.start(hub.address);
    cleanup.add(() => proxy.close());
    const alice = await startTcpNode(cleanup, { listen: false, tcp });
    const echo = route([TCP, proxy.address], 'echoer');
    await alice.ctx.request(echo, 'hi', { timeout: 10_000, acceptsTransportReplies: true });
    const [aliceConnection] = alice.tcp.connections();
    const [hubConnection] = hub.tcp.connections();
    // Idle, but PINGs are answered: open well past the peer timeout.
    const idleSince = performance.now();
    while (performance.now() - idleSince < 2 * tcp.peerTimeoutMs) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(aliceConnection!.isOpen).toBe(true);
    expect(hubConnection!.isOpen).toBe(true);
    expect(proxy.frames.filter((f) => f.bytes.length === 0).length).toBeGreaterThan(0); // PINGs crossed

    // The partition: the proxy stops reading either side, so nothing crosses, not even a close (dropping the
    // frames alone let the first end to time out close its socket, and the other saw CONNECTION_CLOSED).
    cleanup.add(proxy.freeze(0, 'toTarget'));
    cleanup.add(proxy.freeze(0, 'fromTarget'));
    const cut = performance.now();
    const reasons = await within(
      Promise.all([aliceConnection!.closed(), hubConnection!.closed()]),
      10_000,
      'both connections closing',
    );
    expect(reasons.map((r) => r.code)).toEqual(['PEER_UNRESPONSIVE', 'PEER_UNRESPONSIVE']);
    expect(performance.now() - cut).toBeLessThan(tcp.peerTimeoutMs + scaled(3_000));
  });
});

describe('A node that stops', () => {
  it('sends CLOSE on every open channel: the peer notices at once, not at its peer timeout', async () => {
    const bob = await startTcpNode(cleanup);
    const listener = await createSecureChannelListener(bob.ctx, await newIdentity(), 'listener', {
      trustPolicy: TrustEveryone, // default liveness: 30 s peer timeout
    });
    const alice = await startTcpNode(cleanup, { listen: false });
    const identity = await newIdentity();
    const opened: SecureChannel[] = [];
    for (let i = 0; i < 5; i++) {
      const bobSide = nextEvent<SecureChannel>(listener, 'channelOpened');
      await createSecureChannel(alice.ctx, identity, route([TCP, bob.address], 'listener'), {
        trustPolicy: TrustEveryone,
      });
      opened.push(await bobSide);
    }
    const stopping = performance.now();
    await alice.node.stop();
    const reasons = await within(Promise.all(opened.map((c) => c.closed())), 5_000, "Bob's channels closing");
    expect(reasons).toEqual(Array(5).fill('remote'));
    expect(performance.now() - stopping).toBeLessThan(3_000);
    expect(listener.channels.size).toBe(0);
  });
});

describe('SecureChannelListener maxChannelsPerIdentity', () => {
  it("closes a peer's oldest channel when it opens one more than the cap", async () => {
    const p = await pair(newNode);
    const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
      trustPolicy: TrustEveryone,
      maxChannelsPerIdentity: 2,
    });
    const channels: SecureChannel[] = [];
    for (let i = 0; i < 4; i++) {
      channels.push(await createSecureChannel(p.actx, p.alice, p.toListener, { trustPolicy: TrustEveryone }));
    }
    expect(await within(channels[0]!.closed(), 5_000, 'the oldest channel closing')).toBe('remote');
    expect(await within(channels[1]!.closed(), 5_000, 'the second channel closing')).toBe('remote');
    expect(channels[2]!.isClosed).toBe(false);
    expect(channels[3]!.isClosed).toBe(false);
    expect(listener.channels.size).toBe(2);
    expect(listener.stats.evicted).toBe(2);
    // Another identity has its own allowance.
    const carol = await newIdentity();
    await createSecureChannel(p.actx, carol, p.toListener, { trustPolicy: TrustEveryone });
    expect(listener.channels.size).toBe(3);
    expect(channelWorkers(p.b).length).toBeGreaterThan(0);
  });
});
