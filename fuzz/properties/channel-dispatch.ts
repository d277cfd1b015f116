import fc from 'fast-check';
import { Address } from '../../src/core/address';
import { DeliveryFailureNotice, type DeliveryFailureCode } from '../../src/core/delivery-failure';
import { LocalMessage } from '../../src/core/message';
import { Route } from '../../src/core/route';
import { SecureChannelError } from '../../src/channel/errors';
import { FrameType, MAX_FRAME_PLAINTEXT, PayloadKind } from '../../src/channel/frames';
import { Handshake } from '../../src/channel/handshake';
import { HandshakeWorker } from '../../src/channel/handshake-worker';
import { resolveLimits } from '../../src/channel/options';
import type { SecureChannel } from '../../src/channel/secure-channel';
import type { LocalStatic } from '../../src/channel/static-keys';
import { TrustEveryone } from '../../src/identity';
import { QUEUED, type Context } from '../../src/node/context';
import { silentLogger } from '../../src/node/logger';
import { sodiumReady } from '../../src/crypto/sodium';
import { twoLocalStatics } from './channel-keys';
import { applyMutations, mutationArb, type Mutation } from './mutate';
import { check, defineProperty, fillerBytes, hex, traceCase, type FuzzProperty } from './support';

/**
 * A secure channel's frame dispatch (src/channel/handshake-worker.ts, then the decryptor's payload kinds),
 * fed whatever the network may send at every point of a real handshake between two channel ends: frames of
 * every type and of none, up to and past the largest a channel sends (a DATA frame of a full Noise message,
 * 65,544 bytes), mutated and replayed genuine frames, plaintext delivery failure notices and bodies that
 * are no frame; and, once the channel is open, plaintexts of every payload kind, up to the largest, that
 * the authenticated peer encrypted itself.
 */

/** The largest DATA frame: type, nonce, a Noise message of 65,535 bytes. */
const MAX_DATA_FRAME = 9 + MAX_FRAME_PLAINTEXT + 16;

/** Where an injection goes: to the initiator's or the responder's decryptor. */
type Side = 'initiator' | 'responder';

type Injected =
  | { readonly kind: 'frame'; readonly type: number; readonly bytes: Uint8Array }
  | { readonly kind: 'genuine'; readonly of: number; readonly mutations: readonly Mutation[] }
  | { readonly kind: 'notice'; readonly code: DeliveryFailureCode }
  | { readonly kind: 'other'; readonly body: unknown }
  | { readonly kind: 'authenticated'; readonly payloadKind: number; readonly bytes: Uint8Array };

interface Injection {
  readonly side: Side;
  /** Whether it comes back by the route the genuine peer's frames take (a refusal is honoured only then). */
  readonly fromPeer: boolean;
  readonly what: Injected;
}

/** Bytes after a type byte: mostly short, often around the largest sizes a frame can have, rarely 1 MiB. */
const bytesArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 100 }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: MAX_DATA_FRAME - 200, max: MAX_DATA_FRAME + 100 }), fc.integer())
      .map(([n, seed]) => fillerBytes(n, seed)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 101, max: 1 << 20 }), fc.integer())
      .map(([n, s]) => fillerBytes(n, s)),
  },
);

const NOTICE_CODES: readonly DeliveryFailureCode[] = ['NO_ROUTE', 'CONNECTION_LOST', 'UNDELIVERABLE'];

const injectedArb: fc.Arbitrary<Injected> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('frame' as const),
      type: fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 255), fc.nat({ max: 255 })),
      bytes: bytesArb,
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('genuine' as const),
      of: fc.nat(),
      mutations: fc.array(mutationArb(), { maxLength: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('notice' as const), code: fc.constantFrom(...NOTICE_CODES) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('other' as const),
      body: fc.oneof(
        fc.constantFrom(undefined, null, '', 0, {}),
        fc.string(),
        fc.constant(new Uint8Array(0)),
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('authenticated' as const),
      payloadKind: fc.oneof(fc.constantFrom(...Object.values(PayloadKind)), fc.nat({ max: 255 })),
      bytes: fc.oneof(
        { weight: 5, arbitrary: fc.uint8Array({ maxLength: 40 }) },
        {
          weight: 1,
          arbitrary: fc
            .tuple(fc.integer({ min: MAX_FRAME_PLAINTEXT - 40, max: MAX_FRAME_PLAINTEXT - 1 }), fc.integer())
            .map(([n, seed]) => fillerBytes(n, seed)),
        },
      ),
    }),
  },
);

const injectionArb: fc.Arbitrary<Injection> = fc.record({
  side: fc.constantFrom<Side>('initiator', 'responder'),
  fromPeer: fc.boolean(),
  what: injectedArb,
});

interface End {
  readonly worker: HandshakeWorker;
  readonly ctx: Context;
  channel?: SecureChannel;
  failure?: SecureChannelError;
  /** Messages its channel delivered to workers of its node. */
  readonly delivered: LocalMessage[];
}

interface Keys {
  readonly initiator: LocalStatic;
  readonly responder: LocalStatic;
}
let keys: Promise<Keys> | undefined;

async function makeKeys(): Promise<Keys> {
  const [initiator, responder] = await twoLocalStatics();
  return { initiator, responder };
}

/** One message in flight between the two ends. */
interface InFlight {
  readonly to: Side;
  readonly message: LocalMessage;
}

/**
 * Two channel ends with nothing under them but a wire: what one end's context delivers to the other end's
 * decryptor address is queued for it; anything else (a message out of the channel) is recorded as
 * delivered. `step` hands the next queued message over.
 */
class Pair {
  readonly ends: Record<Side, End>;
  readonly wire: InFlight[] = [];
  /** Every frame that crossed the wire so far, to replay and mutate. */
  readonly seen: Uint8Array[] = [];
  /** Where injected frames come from when not from the peer's route. */
  readonly stranger = Address.local('elsewhere');

  constructor(initiator: Handshake, responder: Handshake, reliable: boolean) {
    const limits = resolveLimits({ trustPolicy: TrustEveryone, keepaliveInterval: 0, idleTimeout: 0 });
    const addresses = { initiator: Address.unique('~sc.d.'), responder: Address.unique('sc.r.') };
    const end = (side: Side, handshake: Handshake): End => {
      const delivered: LocalMessage[] = [];
      const ctx = this.context(delivered);
      const other: Side = side === 'initiator' ? 'responder' : 'initiator';
      const self: End = {
        ctx,
        delivered,
        worker: new HandshakeWorker(
          addresses[side],
          handshake,
          limits,
          { onOpen: (c) => (self.channel = c), onFail: (e) => (self.failure = e) },
          silentLogger,
          side === 'initiator' && reliable ? Route.of([addresses[other]]) : undefined,
        ),
      };
      self.worker.initialize(ctx);
      return self;
    };
    this.ends = { initiator: end('initiator', initiator), responder: end('responder', responder) };
  }

  private context(delivered: LocalMessage[]): Context {
    const node = { once: () => undefined, on: () => undefined };
    return {
      node,
      deliver: (message: LocalMessage) => {
        const to = message.onwardRoute.next?.key;
        const side = (['initiator', 'responder'] as const).find(
          (s) => this.ends[s].worker.address.key === to,
        );
        // A reply to an injected frame's sender (a refusal, a handshake message) is no delivery.
        if (to === this.stranger.key) return QUEUED;
        if (side === undefined) delivered.push(message);
        else this.wire.push({ to: side, message });
        return QUEUED;
      },
      startWorker: () => Promise.resolve(),
      hasWorker: () => false,
      stopWorker: () => Promise.resolve(),
      isNodeStopped: false,
    } as unknown as Context;
  }

  /** Hands `message` to the decryptor of `to`, which must neither throw nor reject. */
  async hand(to: Side, message: LocalMessage): Promise<void> {
    const end = this.ends[to];
    if (message.body instanceof Uint8Array) traceCase(message.body);
    try {
      await end.worker.handleMessage(end.ctx, message);
    } catch (error) {
      const body =
        message.body instanceof Uint8Array ? hex(message.body.subarray(0, 64)) : String(message.body);
      check(false, `the ${to}'s decryptor threw ${String(error)} on ${body}`);
    }
  }

  /** Hands over the next genuine message; false when none is in flight. */
  async step(): Promise<boolean> {
    const next = this.wire.shift();
    if (next === undefined) return false;
    if (next.message.body instanceof Uint8Array) this.seen.push(next.message.body.slice());
    await this.hand(next.to, next.message);
    return true;
  }

  /** The route `side`'s genuine peer sends from (its decryptor), or one from elsewhere. */
  returnRoute(side: Side, fromPeer: boolean): Route {
    const peer: Side = side === 'initiator' ? 'responder' : 'initiator';
    return Route.of([fromPeer ? this.ends[peer].worker.address : this.stranger]);
  }
}

/**
 * Whether an injection may end a handshake in progress: plaintext refusals and notices are honoured then.
 * So is anything sent to a responder before the genuine HELLO (a listener makes its responder for a HELLO:
 * one sent junk first is another handshake, with the junk's sender).
 */
function mayFail(pair: Pair, injection: Injection): boolean {
  const { what } = injection;
  if (injection.side === 'responder' && pair.seen.length === 0) return true;
  if (what.kind === 'notice') return true;
  if (what.kind === 'frame') return what.type === FrameType.REFUSED || what.type === FrameType.HELLO;
  if (what.kind === 'genuine') return true; // a mutated frame may turn into any of these
  return false;
}

async function inject(pair: Pair, injection: Injection): Promise<void> {
  const { side, what } = injection;
  const target = pair.ends[side];
  if (what.kind === 'authenticated') {
    // The peer itself, keys in hand, encrypts whatever it likes: only once its channel end exists.
    const peer = pair.ends[side === 'initiator' ? 'responder' : 'initiator'];
    if (peer.channel === undefined || peer.channel.isClosed) return;
    const plaintext = new Uint8Array(1 + what.bytes.length);
    plaintext[0] = what.payloadKind;
    plaintext.set(what.bytes, 1);
    void peer.channel.end.encryptor.sendUnsequenced(plaintext);
    return;
  }
  let body: unknown;
  switch (what.kind) {
    case 'frame':
      body = new Uint8Array(1 + what.bytes.length);
      (body as Uint8Array)[0] = what.type;
      (body as Uint8Array).set(what.bytes, 1);
      break;
    case 'genuine':
      if (pair.seen.length === 0) return;
      body = applyMutations(pair.seen[what.of % pair.seen.length]!, what.mutations);
      break;
    case 'notice':
      body = new DeliveryFailureNotice(what.code);
      break;
    case 'other':
      body = what.body;
  }
  const to = Route.of([target.worker.address]);
  await pair.hand(side, new LocalMessage(to, pair.returnRoute(side, injection.fromPeer), body));
}

/**
 * Any frame at any phase: the decryptors never throw; nothing injected reaches a worker; a handshake fails
 * only by a plaintext refusal or notice (or a replayed, mutated frame), and then with a typed error; with
 * none of those, both ends open, and a message each way arrives once (unless the authenticated peer itself
 * sent something that closed or confused its own channel).
 */
const dispatch = defineProperty('channel/handshake-worker/any-frame-any-phase', 4_000, 30, async () => {
  await sodiumReady();
  keys ??= makeKeys();
  const local = await keys;
  return fc.asyncProperty(
    fc.constantFrom('Noise_XX_25519_ChaChaPoly_SHA256', 'Noise_XX_25519_AESGCM_SHA256'),
    fc.boolean(),
    // Injections before each of the (at most eight) genuine handshake messages, then on the open channel,
    // then after the initiator closed it.
    fc.array(fc.array(injectionArb, { maxLength: 2 }), { minLength: 8, maxLength: 8 }),
    fc.array(injectionArb, { maxLength: 4 }),
    fc.array(injectionArb, { maxLength: 2 }),
    async (protocol, reliable, during, open, closed) => {
      const parameters = { maxMessageSize: 1 << 20, rekeyInterval: 1000 };
      const [initiator, responder] = await Promise.all([
        Handshake.create(true, protocol, {
          local: local.initiator,
          trustPolicy: TrustEveryone,
          parameters: { ...parameters, reliable },
        }),
        Handshake.create(false, protocol, { local: local.responder, trustPolicy: TrustEveryone, parameters }),
      ]);
      const pair = new Pair(initiator, responder, reliable);
      const { ends } = pair;
      pair.ends.initiator.worker.send(await initiator.start(), Route.of([ends.responder.worker.address]));
      let failable = false;
      // The authenticated peer's own junk may close or confuse its channel: then only "no throw" holds.
      let authenticated = false;
      for (let i = 0; ; i++) {
        for (const injection of during[i] ?? []) {
          authenticated ||= injection.what.kind === 'authenticated';
          if (ends.initiator.channel === undefined || ends.responder.channel === undefined) {
            failable ||= mayFail(pair, injection) || authenticated;
          }
          await inject(pair, injection);
        }
        if (!(await pair.step())) break;
      }
      const opened = ends.initiator.channel !== undefined && ends.responder.channel !== undefined;
      for (const side of ['initiator', 'responder'] as const) {
        const failure = ends[side].failure;
        check(
          failure === undefined || failure instanceof SecureChannelError,
          `the ${side} failed with ${String(failure)}`,
        );
      }
      if (!failable)
        check(
          opened,
          `the handshake did not complete: ${String(ends.initiator.failure ?? ends.responder.failure)}`,
        );
      check(
        ends.initiator.delivered.length === 0 && ends.responder.delivered.length === 0,
        'an injected frame reached a worker',
      );
      if (!opened) return;

      // The open channel, under injections.
      for (const injection of open) {
        authenticated ||= injection.what.kind === 'authenticated';
        await inject(pair, injection);
        while (await pair.step());
      }
      const initiatorChannel = ends.initiator.channel!;
      const responderChannel = ends.responder.channel!;
      if (!authenticated) {
        check(
          !initiatorChannel.isClosed && !responderChannel.isClosed,
          'an unauthenticated frame closed the channel',
        );
        initiatorChannel.end.encryptor.transmit(
          Route.parse('echoer'),
          Route.of([Address.local('app')]),
          'to r',
        );
        responderChannel.end.encryptor.transmit(
          Route.parse('echoer'),
          Route.of([Address.local('app')]),
          'to i',
        );
        while (await pair.step());
        check(
          ends.responder.delivered.map((m) => m.body).join() === 'to r' &&
            ends.initiator.delivered.map((m) => m.body).join() === 'to i',
          'a message through the open channel did not arrive exactly once',
        );
      }
      // Closed: the initiator's CLOSE reaches the responder; nothing after it is acted on.
      void initiatorChannel.end.lifecycle.sendClose();
      while (await pair.step());
      if (!authenticated) check(responderChannel.isClosed, 'the CLOSE did not close the responder');
      initiatorChannel.end.lifecycle.teardown('local');
      const before = ends.initiator.delivered.length + ends.responder.delivered.length;
      for (const injection of closed) {
        await inject(pair, injection);
        while (await pair.step());
      }
      check(
        ends.initiator.delivered.length + ends.responder.delivered.length === before,
        'a closed channel delivered a message',
      );
    },
  );
});

export const dispatchProperties: readonly FuzzProperty[] = [dispatch];
