import {
  route,
  TrustEveryone,
  TrustIdentifier,
  TRANSPORT_INFO,
  createSecureChannel,
  createSecureChannelListener,
  remoteIdentifierOf,
  secureChannelInfoOf,
  type SecureChannel,
  type SecureChannelError,
  type SecureChannelListener,
} from '../../src';
import { CapturingLogger } from '../helpers/capturing-logger';
import { newNode, stopNodes } from '../helpers/nodes';
import { waitFor, within } from '../helpers/async';
import { channelError, channelWorkersGone, Echoer, newIdentity, nextEvent, pair, type Pair } from './helpers';
import {
  SECURE_CHANNEL_DEFAULTS,
  resolveInitiatorOptions,
  resolveLimits,
  resolveListenerOptions,
} from '../../src/channel/options';

afterEach(stopNodes);

const suites = [
  'Noise_XX_25519_ChaChaPoly_SHA256',
  'Noise_XX_25519_AESGCM_SHA512',
  'Noise_IK_25519_ChaChaPoly_BLAKE2s',
  'Noise_IK_25519_AESGCM_SHA256',
  'Noise_NK_25519_ChaChaPoly_SHA256',
  'Noise_NK_25519_AESGCM_BLAKE2b',
];

/** Opens a channel from Alice to Bob's listener, returning both ends. */
async function open(
  p: Pair,
  listener: SecureChannelListener,
  protocol: string,
): Promise<{ channel: SecureChannel; bobChannel: SecureChannel }> {
  const opened = nextEvent<SecureChannel>(listener, 'channelOpened');
  const channel = await createSecureChannel(p.actx, p.alice, p.toListener, {
    trustPolicy: TrustIdentifier(p.bob.identifier),
    protocol,
    remoteStaticKey: protocol.includes('_XX_') ? undefined : listener.staticPublicKey,
    timeout: 5_000,
  });
  return { channel, bobChannel: await opened };
}

describe('SecureChannel handshakes', () => {
  it.each(suites)('%s: echoes both ways across two nodes, identifiers in localInfo', async (protocol) => {
    const p = await pair(newNode);
    const anonymous = protocol.includes('_NK_');
    const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
      trustPolicy: anonymous ? TrustEveryone : TrustIdentifier(p.alice.identifier),
    });
    const { channel, bobChannel } = await open(p, listener, protocol);
    expect(channel.remoteIdentifier).toBe(p.bob.identifier);
    expect(channel.protocolName).toBe(protocol);
    expect(bobChannel.remoteIdentifier).toBe(anonymous ? undefined : p.alice.identifier);
    expect(Buffer.from(bobChannel.handshakeHash)).toEqual(Buffer.from(channel.handshakeHash));

    // Alice -> Bob's echoer -> back to Alice.
    await p.actx.send(route(channel, 'echoer'), 'hello bob');
    const echo = await p.actx.receive({ timeout: 5_000 });
    expect(echo.body).toBe('hello bob');
    expect(remoteIdentifierOf(echo)).toBe(p.bob.identifier);
    expect(secureChannelInfoOf(echo)?.channel.equals(channel.address)).toBe(true);
    expect(echo.localInfo[TRANSPORT_INFO]).toBeUndefined();
    const atBob = p.bobEchoer.received[0]!;
    expect(remoteIdentifierOf(atBob)).toBe(anonymous ? undefined : p.alice.identifier);
    expect(atBob.localInfo[TRANSPORT_INFO]).toBeUndefined();
    expect(atBob.returnRoute.next?.equals(bobChannel.address)).toBe(true);

    // Bob -> Alice's echoer -> back to Bob, structured bodies too.
    await p.bctx.send(route(bobChannel, 'echoer'), { n: 1, bytes: new Uint8Array([1, 2, 3]) });
    const back = await p.bctx.receive({ timeout: 5_000 });
    expect(back.body).toEqual({ n: 1, bytes: new Uint8Array([1, 2, 3]) });
    expect(remoteIdentifierOf(back)).toBe(anonymous ? undefined : p.alice.identifier);
    expect(remoteIdentifierOf(p.aliceEchoer.received[0]!)).toBe(p.bob.identifier);
    expect(listener.channels.has(bobChannel)).toBe(true);
  });

  it('runs over two plain local routes in one node too', async () => {
    const node = newNode();
    const alice = await newIdentity();
    const bob = await newIdentity();
    await createSecureChannelListener(node.context(), bob, 'listener', { trustPolicy: TrustEveryone });
    const echo = new Echoer();
    await node.startWorker('echoer', echo);
    const ctx = node.context();
    const channel = await createSecureChannel(ctx, alice, route('listener'), {
      trustPolicy: TrustEveryone,
      timeout: 5_000,
    });
    const reply = await ctx.request(route(channel, 'echoer'), 'local', { timeout: 5_000 });
    expect(reply.body).toBe('local');
    expect(remoteIdentifierOf(reply)).toBe(bob.identifier);
  });
});

describe('SecureChannel trust', () => {
  it.each(['Noise_XX_25519_ChaChaPoly_SHA256', 'Noise_IK_25519_AESGCM_SHA256'])(
    '%s: fails with UNTRUSTED when the initiator does not trust the listener; the listener gets REFUSED',
    async (protocol) => {
      const p = await pair(newNode);
      const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
        trustPolicy: TrustEveryone,
      });
      const failed = nextEvent<SecureChannelError>(listener, 'handshakeFailed');
      const error = await channelError(
        createSecureChannel(p.actx, p.alice, p.toListener, {
          trustPolicy: TrustIdentifier('Isomeone-else'),
          protocol,
          remoteStaticKey: protocol.includes('_IK_') ? listener.staticPublicKey : undefined,
        }),
      );
      expect(error.code).toBe('UNTRUSTED');
      const atBob = await failed;
      expect(atBob.code).toBe('REFUSED');
      expect(atBob.reason).toBe('untrusted');
      expect(listener.channels.size).toBe(0);
      await channelWorkersGone(p.a, p.b);
    },
  );

  it.each(['Noise_XX_25519_ChaChaPoly_SHA256', 'Noise_IK_25519_ChaChaPoly_SHA256'])(
    '%s: fails with REFUSED/untrusted when the listener does not trust the initiator; the listener gets UNTRUSTED',
    async (protocol) => {
      const p = await pair(newNode);
      const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
        trustPolicy: TrustIdentifier('Isomeone-else'),
      });
      const failed = nextEvent<SecureChannelError>(listener, 'handshakeFailed');
      const error = await channelError(
        createSecureChannel(p.actx, p.alice, p.toListener, {
          trustPolicy: TrustEveryone,
          protocol,
          remoteStaticKey: protocol.includes('_IK_') ? listener.staticPublicKey : undefined,
        }),
      );
      expect(error.code).toBe('REFUSED');
      expect(error.reason).toBe('untrusted');
      expect((await failed).code).toBe('UNTRUSTED');
      expect(listener.stats).toMatchObject({ channelsOpened: 0, handshakesFailed: 1 });
      await channelWorkersGone(p.a, p.b);
    },
  );

  it('refuses a man in the middle that relays with its own keys', async () => {
    // Mallory sits on Alice's route to Bob: she accepts Alice's channel at her own listener and opens her
    // own channel to Bob, relaying between them. She cannot prove Bob's identity, so Alice refuses.
    const p = await pair(newNode);
    const bobListener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
      trustPolicy: TrustEveryone,
    });
    const mallory = await newIdentity();
    const malloryListener = await createSecureChannelListener(p.a.context(), mallory, 'mallory', {
      trustPolicy: TrustEveryone,
    });
    const relayed = createSecureChannel(p.a.context(), mallory, p.toListener, {
      trustPolicy: TrustEveryone,
      timeout: 5_000,
    });
    const failed = nextEvent<SecureChannelError>(malloryListener, 'handshakeFailed');
    const error = await channelError(
      createSecureChannel(p.actx, p.alice, route('mallory'), {
        trustPolicy: TrustIdentifier(p.bob.identifier),
      }),
    );
    expect(error.code).toBe('UNTRUSTED');
    expect(error.message).toContain(mallory.identifier);
    expect((await failed).reason).toBe('untrusted');
    // Her own channel to Bob works, and is Mallory's, not Alice's.
    expect((await relayed).remoteIdentifier).toBe(p.bob.identifier);
    expect([...bobListener.channels].map((c) => c.remoteIdentifier)).toEqual([mallory.identifier]);
    expect(malloryListener.channels.size).toBe(0);
  });

  it('IK: an initiator that pins the wrong listener key gets no channel', async () => {
    const p = await pair(newNode);
    const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
      trustPolicy: TrustEveryone,
    });
    const failed = nextEvent<SecureChannelError>(listener, 'handshakeFailed');
    const wrongKey = new Uint8Array(32).fill(9);
    const error = await channelError(
      createSecureChannel(p.actx, p.alice, p.toListener, {
        trustPolicy: TrustEveryone,
        protocol: 'Noise_IK_25519_ChaChaPoly_SHA256',
        remoteStaticKey: wrongKey,
      }),
    );
    expect(error.code).toBe('REFUSED');
    expect(error.reason).toBe('handshake-failed');
    expect((await failed).code).toBe('HANDSHAKE_FAILED');
  });

  it('XX: a pinned static key that the listener does not hold fails UNTRUSTED', async () => {
    const p = await pair(newNode);
    await createSecureChannelListener(p.bctx, p.bob, 'listener', { trustPolicy: TrustEveryone });
    const error = await channelError(
      createSecureChannel(p.actx, p.alice, p.toListener, {
        trustPolicy: TrustEveryone,
        remoteStaticKey: new Uint8Array(32).fill(1),
      }),
    );
    expect(error.code).toBe('UNTRUSTED');
  });

  it('NK: refused with a clear error unless the listener trusts everyone', async () => {
    const p = await pair(newNode);
    await expect(
      createSecureChannelListener(p.bctx, p.bob, 'strict', {
        trustPolicy: TrustIdentifier(p.alice.identifier),
        protocol: 'Noise_NK_25519_ChaChaPoly_SHA256',
      }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });

    const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
      trustPolicy: TrustIdentifier(p.alice.identifier),
    });
    const failed = nextEvent<SecureChannelError>(listener, 'handshakeFailed');
    const error = await channelError(
      createSecureChannel(p.actx, p.alice, p.toListener, {
        trustPolicy: TrustEveryone,
        protocol: 'Noise_NK_25519_ChaChaPoly_SHA256',
        remoteStaticKey: listener.staticPublicKey,
      }),
    );
    expect(error).toMatchObject({ code: 'REFUSED', reason: 'untrusted' });
    const atBob = await failed;
    expect(atBob.code).toBe('UNTRUSTED');
    expect(atBob.message).toMatch(/NK initiators are anonymous/);
  });

  it('refuses a protocol the listener does not accept', async () => {
    const p = await pair(newNode);
    const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
      trustPolicy: TrustEveryone,
      protocol: ['Noise_XX_25519_ChaChaPoly_SHA256'],
    });
    const error = await channelError(
      createSecureChannel(p.actx, p.alice, p.toListener, {
        trustPolicy: TrustEveryone,
        protocol: 'Noise_XX_25519_AESGCM_SHA256',
      }),
    );
    expect(error).toMatchObject({ code: 'REFUSED', reason: 'unsupported-protocol' });
    expect(listener.stats.refusedProtocol).toBe(1);
  });

  it('rejects unusable options before sending anything', async () => {
    const p = await pair(newNode);
    const bad = (options: object) =>
      channelError(
        createSecureChannel(p.actx, p.alice, p.toListener, { trustPolicy: TrustEveryone, ...options }),
      );
    expect((await bad({ protocol: 'Noise_IK_25519_ChaChaPoly_SHA256' })).code).toBe('INVALID_OPTIONS');
    expect((await bad({ protocol: 'Noise_KK_25519_ChaChaPoly_SHA256' })).code).toBe('UNSUPPORTED_PROTOCOL');
    expect((await bad({ protocol: 'nonsense' })).code).toBe('UNSUPPORTED_PROTOCOL');
    expect((await bad({ maxMessageSize: 0 })).code).toBe('INVALID_OPTIONS');
    expect((await bad({ trustPolicy: undefined })).code).toBe('INVALID_OPTIONS');
    expect(p.hop.seen).toHaveLength(0);
  });

  it.each([
    [{ maxMessageSize: 0 }, 'SecureChannelOptions.maxMessageSize must be an integer in 1..4294967295, got 0'],
    [{ replayWindow: 1.5 }, 'SecureChannelOptions.replayWindow must be an integer in 1..1048576, got 1.5'],
    [
      { timeout: 2 ** 31 },
      'SecureChannelOptions.timeout must be an integer in 1..2147483647, got 2147483648',
    ],
    [{ keepaliveInterval: -1 }, 'SecureChannelOptions.keepaliveInterval must be an integer in 0..2147483647'],
  ])('names the option and its range when %j is out of range', async (options, message) => {
    const p = await pair(newNode);
    const error = await channelError(
      createSecureChannel(p.actx, p.alice, p.toListener, { trustPolicy: TrustEveryone, ...options }),
    );
    expect(error).toMatchObject({ code: 'INVALID_OPTIONS' });
    expect(error.message).toContain(message);
    expect(p.hop.seen).toHaveLength(0);
  });

  it('refuses a listener option out of range, naming it', async () => {
    const p = await pair(newNode);
    await expect(
      createSecureChannelListener(p.bctx, p.bob, 'strict', {
        trustPolicy: TrustEveryone,
        maxPendingHandshakesPerSource: 0,
      }),
    ).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      message: expect.stringContaining('SecureChannelListenerOptions.maxPendingHandshakesPerSource'),
    });
  });

  it('keeps the default of an option given as undefined', () => {
    const limits = resolveLimits({
      trustPolicy: TrustEveryone,
      maxMessageSize: undefined,
      idleTimeout: undefined,
    });
    expect(limits).toEqual(resolveLimits({ trustPolicy: TrustEveryone }));
    expect(limits.maxMessageSize).toBe(SECURE_CHANNEL_DEFAULTS.maxMessageSize);
    expect(limits.idleTimeout).toBe(SECURE_CHANNEL_DEFAULTS.idleTimeout);
    expect(resolveListenerOptions({ trustPolicy: TrustEveryone, handshakeTimeout: undefined })).toMatchObject(
      {
        handshakeTimeout: SECURE_CHANNEL_DEFAULTS.handshakeTimeout,
      },
    );
    expect(resolveInitiatorOptions({ timeout: undefined }).timeout).toBe(SECURE_CHANNEL_DEFAULTS.timeout);
  });
});

describe('SecureChannel limits', () => {
  it('times out with TIMEOUT when nothing answers, leaving no workers behind', async () => {
    const p = await pair(newNode);
    p.hop.transform = () => []; // a black hole
    const started = Date.now();
    const error = await channelError(
      createSecureChannel(p.actx, p.alice, p.toListener, { trustPolicy: TrustEveryone, timeout: 200 }),
    );
    expect(error.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2_000);
    await channelWorkersGone(p.a);
  });

  it('caps pending handshakes: one over the cap evicts the oldest (refused busy), the others time out', async () => {
    const logger = new CapturingLogger();
    const p = await pair(newNode, { logger });
    const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
      trustPolicy: TrustEveryone,
      maxPendingHandshakes: 2,
      handshakeTimeout: 1_000,
    });
    // Second handshake messages never reach Alice: every responder waits for a third message. Refusal
    // notices still get through.
    p.hop.transform = (entry) => ((entry.body as Uint8Array)[0] === 2 ? [] : [entry.body]);
    const failures: SecureChannelError[] = [];
    listener.on('handshakeFailed', (e) => failures.push(e));
    const attempt = (timeout: number) =>
      channelError(
        createSecureChannel(p.actx, p.alice, p.toListener, { trustPolicy: TrustEveryone, timeout }),
      );
    const first = within(attempt(5_000), 4_000, 'the busy refusal');
    const second = attempt(2_000);
    await waitFor(() => listener.pendingHandshakes === 2);
    // All three come from one source (this node): the third takes the place of that source's oldest.
    const third = attempt(2_000);
    expect(await first).toMatchObject({ code: 'REFUSED', reason: 'busy' });
    expect(listener.stats).toMatchObject({ handshakesEvicted: 1, refusedBusy: 0 });
    expect(failures.map((e) => e.code)).toEqual(['TOO_MANY_HANDSHAKES']);
    expect(logger.at('warn').some((e) => e.msg?.includes('maxPendingHandshakes'))).toBe(true);

    // The responders give up after handshakeTimeout; Alice's attempts fail either way.
    await waitFor(() => listener.stats.timedOut === 2, 3_000);
    expect(listener.pendingHandshakes).toBe(0);
    expect(['TIMEOUT', 'REFUSED']).toContain((await second).code);
    expect(['TIMEOUT', 'REFUSED']).toContain((await third).code);
    await channelWorkersGone(p.b);
  });
});
