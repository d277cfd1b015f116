import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { fromSecureChannel } from '../../src/channel/access';
import { FrameType } from '../../src/channel/frames';
import type { SecureChannel } from '../../src/channel/secure-channel';
import { ForwardingService } from '../../src/services/forwarding-service';
import { nextListenerEvent, startAlice, startBob, type Alice, type Bob } from '../helpers/alice-and-bob';
import { waitFor, within } from '../helpers/async';
import { HostileProxy, type ProxiedFrame } from '../helpers/hostile-proxy';
import { scaled } from '../helpers/slowdown';
import { Cleanup, startTcpNode } from '../helpers/tcp-fixtures';

// Reliable channels (docs/PROTOCOL.md 4.5) between in-process Alice and Bob, through a hub behind a hostile
// TCP proxy that drops, holds back and replays frames on command: whatever it does, Bob's worker gets every
// message once, in order, and the channel stays open.

jest.setTimeout(scaled(60_000));

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Short, so lost frames go again quickly. */
const RETRANSMIT_MS = 100;

interface World {
  readonly proxy: HostileProxy;
  readonly bob: Bob;
  readonly alice: Alice;
  readonly bobLink: number;
  readonly aliceLink: number;
  readonly channel: SecureChannel;
  readonly bobChannel: SecureChannel;
  /** What Bob's `sink` worker received, in order. */
  readonly sunk: unknown[];
}

async function world(options: { maxUnackedBytes?: number } = {}): Promise<World> {
  const hub = await startTcpNode(cleanup);
  await ForwardingService.start(hub.ctx, 'forwarding_service');
  const proxy = await HostileProxy.start(hub.address);
  cleanup.add(() => proxy.close());
  const bob = await startBob(cleanup, proxy.address, { listener: { retransmitInterval: RETRANSMIT_MS } });
  const sunk: unknown[] = [];
  await bob.node.startWorker(
    'sink',
    { handleMessage: (_ctx, message) => void sunk.push(message.body) },
    { access: fromSecureChannel() },
  );
  const bobLink = proxy.connectionCount - 1;
  const alice = await startAlice(cleanup);
  const toBob = route([TCP, proxy.address], bob.forwarder.forwardingAddress);
  const bobSide = nextListenerEvent(bob.listener, 'channelOpened');
  const channel = await alice.open(toBob, bob.identity, {
    delivery: 'reliable',
    retransmitInterval: RETRANSMIT_MS,
    ...options,
  });
  const bobChannel = await bobSide;
  return { proxy, bob, alice, bobLink, aliceLink: proxy.connectionCount - 1, channel, bobChannel, sunk };
}

/** Secure channel DATA frames on their way from the hub to Bob (`toBob`) or to Alice. */
function data(w: World, toBob: boolean): (frame: ProxiedFrame) => boolean {
  const link = toBob ? w.bobLink : w.aliceLink;
  return (frame) =>
    frame.connection === link &&
    frame.direction === 'fromTarget' &&
    frame.body instanceof Uint8Array &&
    frame.body[0] === FrameType.DATA;
}

function numbers(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

async function sendAll(w: World, values: readonly number[]): Promise<void> {
  for (const value of values) await w.channel.send(w.alice.ctx, 'sink', value);
}

describe('a reliable secure channel', () => {
  it('is reliable at both ends; a default channel is not', async () => {
    const w = await world();
    expect([w.channel.delivery, w.bobChannel.delivery]).toEqual(['reliable', 'reliable']);
    const plain = await w.alice.open(
      route([TCP, w.proxy.address], w.bob.forwarder.forwardingAddress),
      w.bob.identity,
    );
    expect(plain.delivery).toBe('default');
    expect(plain.reliability).toBeUndefined();
  });

  it('delivers every message once and in order when a hop drops frames both ways and replays some', async () => {
    const w = await world();
    await sendAll(w, numbers(0, 10));
    await waitFor(() => w.sunk.length === 10, scaled(5_000), 'the first messages');
    // Drop 5 frames toward Bob (messages) and 5 toward Alice (acknowledgements), keep copies of 5 more
    // frames each way to replay once the conversation went on.
    const dropToBob = w.proxy.intercept({ match: data(w, true), tamper: { kind: 'drop' }, times: 5 });
    const dropToAlice = w.proxy.intercept({ match: data(w, false), tamper: { kind: 'drop' }, times: 5 });
    const copiesToBob = w.proxy.intercept({ match: data(w, true), tamper: { kind: 'pass' }, times: 5 });
    const copiesToAlice = w.proxy.intercept({ match: data(w, false), tamper: { kind: 'pass' }, times: 5 });
    await sendAll(w, numbers(10, 190));
    // Acknowledgements may be coalesced into fewer frames than there were messages: keep the conversation
    // going, paced, until every rule has had its frames.
    let next = 200;
    const rules = [dropToBob, dropToAlice, copiesToBob, copiesToAlice];
    const until = Date.now() + scaled(10_000);
    while (rules.some((rule) => rule.active) && Date.now() < until) {
      await sendAll(w, [next++]);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await dropToBob.matched(5, scaled(5_000));
    await dropToAlice.matched(5, scaled(5_000));
    const copies = [
      ...(await copiesToBob.matched(5, scaled(5_000))),
      ...(await copiesToAlice.matched(5, scaled(5_000))),
    ];
    for (const frame of copies) w.proxy.replay(frame);
    await waitFor(() => w.sunk.length >= next, scaled(10_000), 'every message');
    // Give any duplicate a chance to show up before judging.
    await sendAll(w, [next]);
    await waitFor(() => w.sunk.length >= next + 1, scaled(5_000), 'the last message');
    expect(w.sunk).toEqual(numbers(0, next + 1));
    // The replayed frames were caught by the replay window (as replays, or as older than it: Bob received
    // many retransmissions meanwhile); the dropped ones went again.
    const caught = (c: SecureChannel): number => c.stats.dropped.replayed + c.stats.dropped.tooOld;
    await waitFor(
      () => caught(w.bobChannel) + caught(w.channel) === 10,
      scaled(5_000),
      'the replays to be dropped',
    );
    expect(w.channel.reliability!.retransmitted).toBeGreaterThan(0);
    expect(w.channel.isClosed || w.bobChannel.isClosed).toBe(false);
    await waitFor(() => w.channel.reliability!.unackedFrames === 0, scaled(5_000), 'everything acknowledged');
  });

  it('bounds what it holds unacknowledged: sends wait, and go on once acknowledgements come', async () => {
    const max = 16 * 1024;
    const w = await world({ maxUnackedBytes: max });
    const body = 'x'.repeat(1000);
    // Hold every frame toward Bob: nothing is acknowledged, so the sender's buffer fills up.
    const hold = w.proxy.intercept({ match: data(w, true), tamper: { kind: 'hold' }, times: 1_000_000 });
    let sent = 0;
    const sending = (async () => {
      for (; sent < 100; sent++) await w.channel.send(w.alice.ctx, 'sink', `${sent} ${body}`);
    })();
    await waitFor(() => w.channel.reliability!.unackedBytes >= max, scaled(5_000), 'the buffer to fill');
    const reached = sent;
    // No acknowledgement comes: the sender stays blocked, within its bound plus the message that crossed it.
    await new Promise((resolve) => setTimeout(resolve, 5 * RETRANSMIT_MS));
    expect(sent).toBe(reached);
    expect(sent).toBeLessThan(100);
    expect(w.channel.reliability!.unackedBytes).toBeLessThan(max + 1100);
    expect(w.sunk).toEqual([]);
    // Let the frames through: acknowledgements make room, the rest goes, all of it in order, once.
    hold.end();
    hold.release();
    await within(sending, scaled(15_000), 'the sends to complete');
    await waitFor(() => w.sunk.length >= 100, scaled(15_000), 'every message');
    expect(w.sunk.map((s) => Number((s as string).split(' ')[0]))).toEqual(numbers(0, 100));
  });

  it('across a silent partition sends again only probes, and delivers everything once, in order', async () => {
    const w = await world();
    await sendAll(w, numbers(0, 10));
    await waitFor(() => w.sunk.length === 10, scaled(5_000), 'the first messages');
    // Nothing reaches Bob and nothing closes: every frame toward him is held back, to arrive late.
    const hold = w.proxy.intercept({ match: data(w, true), tamper: { kind: 'hold' }, times: 1_000_000 });
    await sendAll(w, numbers(10, 300));
    const r = () => w.channel.reliability!;
    await waitFor(() => r().retransmissions >= 3, scaled(5_000), 'Alice to probe three times');
    expect(w.sunk.length).toBe(10);
    // The partition heals: what was held arrives, late, then everything sent since.
    hold.end();
    hold.release();
    await sendAll(w, numbers(310, 10));
    await waitFor(() => w.sunk.length >= 320, scaled(10_000), 'every message');
    await waitFor(() => r().unackedFrames === 0, scaled(5_000), 'everything acknowledged');
    expect(w.sunk).toEqual(numbers(0, 320));
    // One frame per probe went again (a few more if an ack came between two late frames), not the 290
    // held frames per timeout; each arrived twice and was delivered once.
    expect(r().retransmitted).toBeLessThan(20);
    expect(w.bobChannel.reliability!.duplicates).toBe(r().retransmitted);
    expect(w.channel.isClosed || w.bobChannel.isClosed).toBe(false);
  });

  it('runs a request once although the caller timed out while its frames were lost', async () => {
    const w = await world();
    // Drop the request's frames (the first few) toward Bob: the caller times out, the channel sends again.
    const drop = w.proxy.intercept({ match: data(w, true), tamper: { kind: 'drop' }, times: 2 });
    const reply = w.alice.echo(w.channel, 'once', 50).catch((error: unknown) => error);
    expect(await reply).toMatchObject({ name: 'TimeoutError' });
    await drop.matched();
    await waitFor(() => w.bob.received.length === 1, scaled(5_000), 'the request to arrive');
    expect(await w.alice.echo(w.channel, 'after')).toBe('after');
    expect(w.bob.received.map((r) => r.body)).toEqual(['once', 'after']);
  });
});
