import { randomBytes } from 'node:crypto';
import {
  route,
  TrustEveryone,
  TrustIdentifier,
  createSecureChannel,
  createSecureChannelListener,
  fromSecureChannel,
  type Context,
  type DeadLetter,
  type Routed,
  type SecureChannel,
  type SecureChannelError,
  type SecureChannelListener,
  type SecureChannelListenerOptions,
  type SecureChannelOptions,
} from '../../src';
import { until, waitFor, within } from '../helpers/async';
import { newNode, stopNodes } from '../helpers/nodes';
import {
  channelError,
  channelWorkers,
  channelWorkersGone,
  nextEvent,
  pair,
  WIRE,
  type Pair,
} from './helpers';
import { scaled } from '../helpers/slowdown';

// Slow work on a busy machine: a budget scaled by its measured slowdown.
jest.setTimeout(scaled(30_000));

afterEach(stopNodes);

interface Opened {
  readonly p: Pair;
  readonly listener: SecureChannelListener;
  readonly channel: SecureChannel;
  readonly bobChannel: SecureChannel;
}

async function opened(
  listenerOptions: Partial<SecureChannelListenerOptions> = {},
  channelOptions: Partial<SecureChannelOptions> = {},
): Promise<Opened> {
  const p = await pair(newNode);
  const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
    trustPolicy: TrustEveryone,
    ...listenerOptions,
  });
  const bobSide = nextEvent<SecureChannel>(listener, 'channelOpened');
  const channel = await createSecureChannel(p.actx, p.alice, p.toListener, {
    trustPolicy: TrustEveryone,
    timeout: 5_000,
    ...channelOptions,
  });
  return { p, listener, channel, bobChannel: await bobSide };
}

describe('SecureChannel close', () => {
  it('closes both ends when the initiator closes; later sends dead-letter with a clear reason', async () => {
    const o = await opened();
    const closedAtListener = nextEvent<SecureChannel>(o.listener, 'channelClosed');
    await o.channel.close();
    expect(o.channel.isClosed).toBe(true);
    expect(await within(o.channel.closed(), 5_000)).toBe('local');
    expect(await within(o.bobChannel.closed(), 5_000)).toBe('remote');
    expect(await closedAtListener).toBe(o.bobChannel);
    expect(o.listener.channels.size).toBe(0);

    const letters: DeadLetter[] = [];
    o.p.a.deadLetters.on('deadLetter', (letter) => letters.push(letter));
    await o.p.actx.send(route(o.channel, 'echoer'), 'too late');
    await waitFor(() => letters.length === 1);
    expect(letters[0]).toMatchObject({ reason: 'undeliverable' });
    expect(letters[0]!.detail).toMatch(/secure channel .* cannot carry it: .*closed.*\(CLOSED\)/);
    await expect(o.channel.send(o.p.actx, 'echoer', 'too late')).rejects.toMatchObject({ code: 'CLOSED' });
    // The decryptors are gone at once; the encryptors only linger to explain dead letters.
    await waitFor(
      () => !o.p.a.hasWorker(o.channel.decryptorAddress) && !o.p.b.hasWorker(o.bobChannel.decryptorAddress),
    );
    expect(o.p.bobEchoer.received).toHaveLength(0);
  });

  it('closes both ends when the responder closes', async () => {
    const o = await opened();
    const events: string[] = [];
    o.channel.on('closed', (reason) => events.push(reason));
    o.channel.on('lost', (error) => events.push(`lost ${error.code}`));
    o.bobChannel.on('lost', () => events.push('lost at Bob'));
    await o.bobChannel.close();
    expect(await within(o.channel.closed(), 5_000)).toBe('remote');
    // Lost for Alice (her peer closed it), not for Bob, who closed it himself.
    expect(events).toEqual(['remote', 'lost CLOSED']);
    expect(o.channel.closeError?.code).toBe('CLOSED');
    await o.bobChannel.close(); // idempotent
    expect(o.bobChannel.closeReason).toBe('local');
  });

  it('closes the peer that already opened when the initiator gives up waiting for ACCEPTED', async () => {
    const p = await pair(newNode);
    const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
      trustPolicy: TrustEveryone,
    });
    const bobSide = nextEvent<SecureChannel>(listener, 'channelOpened');
    // Every DATA frame to Alice's decryptor (sc.d.*) is lost, the ACCEPTED one included.
    p.hop.transform = (entry) =>
      (entry.body as Uint8Array)[0] === 4 && entry.onwardRoute.recipient!.value.startsWith('~sc.d.')
        ? []
        : [entry.body];
    const error = await channelError(
      createSecureChannel(p.actx, p.alice, p.toListener, { trustPolicy: TrustEveryone, timeout: 300 }),
    );
    expect(error.code).toBe('TIMEOUT');
    // Bob had opened; Alice's authenticated CLOSE ends his half of the channel.
    expect(await within((await bobSide).closed(), 5_000, 'Bob closing')).toBe('remote');
    await channelWorkersGone(p.a);
  });

  it('fails pending handshakes with CLOSED when the listener stops', async () => {
    const p = await pair(newNode);
    const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
      trustPolicy: TrustEveryone,
    });
    p.hop.transform = (entry) => (entry.onwardRoute.recipient?.value === 'listener' ? [entry.body] : []);
    const failed = nextEvent<SecureChannelError>(listener, 'handshakeFailed');
    const attempt = channelError(
      createSecureChannel(p.actx, p.alice, p.toListener, { trustPolicy: TrustEveryone, timeout: 500 }),
    );
    await waitFor(() => listener.pendingHandshakes === 1);
    await listener.stop();
    expect((await failed).code).toBe('CLOSED');
    expect(p.b.hasWorker('listener')).toBe(false);
    expect((await attempt).code).toBe('TIMEOUT');
  });

  it('never lets a transport message reach an encryptor', async () => {
    const o = await opened();
    const letters: DeadLetter[] = [];
    o.p.a.deadLetters.on('deadLetter', (letter) => letters.push(letter));
    // Bob's node asks Alice's encryptor, over the wire, to encrypt something for it.
    await o.p.bctx.send(route([WIRE, 'alice'], o.channel, 'echoer'), 'smuggled');
    await waitFor(() => letters.length === 1);
    expect(letters[0]).toMatchObject({ reason: 'access-denied' });
    expect(o.channel.stats.messagesSent).toBe(0);
  });

  it('closes with reason stopped when its node stops', async () => {
    const o = await opened();
    await o.p.a.stop();
    expect(await within(o.channel.closed(), 5_000)).toBe('stopped');
    expect(channelWorkers(o.p.a)).toEqual([]);
  });
});

describe('SecureChannel large messages', () => {
  it('chunks a 10 MiB message and reassembles it byte for byte, both ways', async () => {
    const o = await opened();
    const big = new Uint8Array(randomBytes(10 * 1024 * 1024));
    await o.channel.send(o.p.actx, 'echoer', big);
    const echo = await o.p.actx.receive<Uint8Array>({ timeout: 20_000 });
    expect(Buffer.from(echo.body).equals(Buffer.from(big))).toBe(true);
    expect(o.channel.stats.framesSent).toBeGreaterThan(160);
    // A large string and a structured body, through ctx.send.
    const text = 'é'.repeat(300_000);
    await o.p.actx.send(route(o.channel, 'echoer'), text);
    expect((await o.p.actx.receive({ timeout: 10_000 })).body).toBe(text);
    const value = { list: Array.from({ length: 20_000 }, (_, i) => ({ i })) };
    await o.p.actx.send(route(o.channel, 'echoer'), value);
    expect((await o.p.actx.receive({ timeout: 10_000 })).body).toEqual(value);
    expect(o.bobChannel.stats.dropped).toEqual({
      decryptFailed: 0,
      replayed: 0,
      tooOld: 0,
      malformed: 0,
      tooLarge: 0,
      evicted: 0,
    });
  });

  it('keeps concurrent large sends on several channels apart under backpressure', async () => {
    // Tiny mailboxes: every hop pushes back, so chunked sends interleave across channels.
    const p = await pair(newNode, { mailboxCapacity: 2 });
    await createSecureChannelListener(p.bctx, p.bob, 'listener', { trustPolicy: TrustEveryone });
    const open = () =>
      createSecureChannel(p.actx, p.alice, p.toListener, { trustPolicy: TrustEveryone, timeout: 5_000 });
    const channels = [await open(), await open(), await open()];
    const bodies = channels.map((_, i) => new Uint8Array(randomBytes(700_000 + i * 1000)));
    const texts = channels.map((_, i) => `small ${i}: héllo wörld ✓`);
    await Promise.all(
      channels.flatMap((channel, i) => [
        channel.send(p.actx, 'echoer', bodies[i]),
        channel.send(p.actx, 'echoer', texts[i]),
      ]),
    );
    await until(p.bobEchoer, 'received', () => p.bobEchoer.received.length === 6, 10_000);
    const received = p.bobEchoer.bodies;
    for (let i = 0; i < channels.length; i++) {
      expect(received).toContain(texts[i]);
      const big = received.find(
        (b) => b instanceof Uint8Array && b.length === bodies[i]!.length,
      ) as Uint8Array;
      expect(Buffer.from(big).equals(Buffer.from(bodies[i]!))).toBe(true);
    }
  });

  it('refuses a message over the maximum with TOO_LARGE, never truncating it', async () => {
    // The listener accepts at most 1 MiB; Alice learns that in the handshake.
    const o = await opened({ maxMessageSize: 1024 * 1024 });
    expect(o.channel.maxMessageSize).toBe(1024 * 1024);
    const big = new Uint8Array(1024 * 1024 + 1);
    const error = await channelError(o.channel.send(o.p.actx, 'echoer', big));
    expect(error.code).toBe('TOO_LARGE');
    expect(o.channel.stats.framesSent).toBe(0);

    const letters: DeadLetter[] = [];
    o.p.a.deadLetters.on('deadLetter', (letter) => letters.push(letter));
    await o.p.actx.send(route(o.channel, 'echoer'), big);
    await waitFor(() => letters.length === 1);
    expect(letters[0]!.reason).toBe('undeliverable');
    expect(letters[0]!.detail).toContain('TOO_LARGE');

    // Just under the limit goes through.
    await o.channel.send(o.p.actx, 'echoer', new Uint8Array(1000 * 1000));
    expect(((await o.p.actx.receive({ timeout: 10_000 })).body as Uint8Array).length).toBe(1000 * 1000);
    expect(o.p.bobEchoer.received).toHaveLength(1);
  });
});

describe('fromSecureChannel', () => {
  it('admits only messages from a secure channel, and from trusted identifiers', async () => {
    const o = await opened();
    const seen: { worker: string; body: unknown }[] = [];
    const recorder = (name: string) => ({
      handleMessage: (_ctx: Context, msg: Routed) => void seen.push({ worker: name, body: msg.body }),
    });
    await o.p.b.startWorker('any-channel', recorder('any-channel'), { access: fromSecureChannel() });
    await o.p.b.startWorker('alice-only', recorder('alice-only'), {
      access: fromSecureChannel([o.p.alice.identifier]),
    });
    await o.p.b.startWorker('carol-only', recorder('carol-only'), {
      access: fromSecureChannel(TrustIdentifier('Icarol')),
    });
    const denied: DeadLetter[] = [];
    o.p.b.deadLetters.on('deadLetter', (letter) => letter.reason === 'access-denied' && denied.push(letter));

    for (const worker of ['any-channel', 'alice-only', 'carol-only']) {
      await o.p.bctx.send(worker, `plain to ${worker}`);
      await o.p.actx.send(route(o.channel, worker), `secure to ${worker}`);
    }
    await waitFor(() => seen.length + denied.length === 6);
    expect(seen).toEqual([
      { worker: 'any-channel', body: 'secure to any-channel' },
      { worker: 'alice-only', body: 'secure to alice-only' },
    ]);
    expect(denied.map((d) => d.detail)).toEqual([
      expect.stringContaining('did not arrive through a secure channel'),
      expect.stringContaining('did not arrive through a secure channel'),
      expect.stringContaining('did not arrive through a secure channel'),
      expect.stringContaining(`trust policy TrustIdentifier(Icarol) refused ${o.p.alice.identifier}`),
    ]);
  });
});
