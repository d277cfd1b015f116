import fc from 'fast-check';
import { Address } from '../../src/core/address';
import { ByteParts } from '../../src/core/byte-parts';
import type { LocalMessage } from '../../src/core/message';
import { Route } from '../../src/core/route';
import { Envelope, decodeEnvelope } from '../../src/channel/envelope';
import type { RefusalReason } from '../../src/channel/errors';
import {
  CHUNK_PIECE_LENGTH,
  FrameType,
  MAX_SINGLE_FRAME_MESSAGE,
  decodeHello,
  decodeRefused,
  encodeHello,
  encodeRefused,
  readU64,
  writeU64,
} from '../../src/channel/frames';
import { Handshake, PROLOGUE, type HandshakeOutcome } from '../../src/channel/handshake';
import type { ChannelLimits } from '../../src/channel/options';
import { Reassembly } from '../../src/channel/reassembly';
import { ByteBudget } from '../../src/node/byte-budget';
import { ReplayWindow } from '../../src/channel/replay-window';
import { SecureChannel } from '../../src/channel/secure-channel';
import type { LocalStatic } from '../../src/channel/static-keys';
import { TrustEveryone } from '../../src/identity';
import { QUEUED, type Context } from '../../src/node/context';
import { silentLogger } from '../../src/node/logger';
import { CipherState, HandshakeState, parseProtocolName } from '../../src/noise';
import { sodium, sodiumReady } from '../../src/crypto/sodium';
import { ALLOCATION_SLACK, measureAllocations } from './allocation-meter';
import { twoLocalStatics } from './channel-keys';
import { dispatchProperties } from './channel-dispatch';
import { bodyArb, sameBody, transportMessageArb } from './core';
import { applyMutations, mutatedArb, mutationArb, noiseArb, type Mutation } from './mutate';
import {
  check,
  concatBytes,
  decodeOrRefuse,
  decodeOrRefuseAsync,
  defineProperty,
  expectRefusal,
  hex,
  sameBytes,
  traceCase,
  type FuzzProperty,
  type Refusal,
} from './support';

const MALFORMED: Refusal = { name: 'SecureChannelError', codes: ['MALFORMED'] };
const REASSEMBLY_REFUSAL: Refusal = { name: 'SecureChannelError', codes: ['TOO_LARGE', 'MALFORMED'] };
/** What `Handshake.read` may throw: every failure is a SecureChannelError, never a raw Noise or identity error. */
const HANDSHAKE_REFUSAL: Refusal = { name: 'SecureChannelError', codes: ['HANDSHAKE_FAILED', 'UNTRUSTED'] };
const ENVELOPE_REFUSAL: Refusal = {
  name: 'DecodeError',
  codes: ['TRUNCATED', 'MALFORMED', 'UNSUPPORTED_VERSION', 'TOO_LARGE'],
};

const REASONS: readonly RefusalReason[] = [
  'untrusted',
  'handshake-failed',
  'busy',
  'timeout',
  'unsupported-protocol',
];

// --- frames ----------------------------------------------------------------------------------------------

const protocolNameArb = fc.oneof(
  fc.constantFrom(
    'Noise_XX_25519_ChaChaPoly_SHA256',
    'Noise_IK_25519_AESGCM_BLAKE2b',
    'Noise_NK_25519_ChaChaPoly_BLAKE2s',
  ),
  fc.string({ unit: 'binary-ascii', maxLength: 255 }),
);
const helloArb = fc
  .tuple(protocolNameArb, fc.uint8Array({ maxLength: 96 }))
  .map(([name, message]) => encodeHello(name, message));

const helloRoundTrip = defineProperty('channel/hello/round-trip', 30_000, 500, () =>
  fc.property(protocolNameArb, fc.uint8Array({ maxLength: 96 }), (protocolName, message) => {
    const decoded = decodeHello(encodeHello(protocolName, message));
    check(
      decoded.protocolName === protocolName && sameBytes(decoded.message, message),
      'hello did not round-trip',
    );
  }),
);

const helloMutated = defineProperty('channel/hello/mutated', 50_000, 1_000, () =>
  fc.property(
    fc.oneof(
      mutatedArb(helloArb).map((m) => m.mutated),
      noiseArb,
    ),
    (frame) => {
      traceCase(frame);
      const outcome = decodeOrRefuse(MALFORMED, () => decodeHello(frame));
      if (!outcome.ok) return;
      const { protocolName, message } = outcome.value;
      check(frame[0] === FrameType.HELLO, 'a frame of another type decoded as hello');
      check(
        new TextEncoder().encode(protocolName).length <= frame[1]!,
        'the protocol name is longer than declared',
      );
      check(
        message.buffer === frame.buffer &&
          message.byteOffset + message.length === frame.byteOffset + frame.length,
        'the message is not the tail of the frame',
      );
    },
  ),
);

/** `decodeRefused` is total: any bytes give one of the five reasons; each reason survives a round trip. */
const refused = defineProperty('channel/refused/any-bytes', 30_000, 500, () =>
  fc.property(noiseArb, fc.constantFrom(...REASONS), (frame, reason) => {
    const outcome = decodeOrRefuse({ name: 'none', codes: [] }, () => decodeRefused(frame));
    check(
      outcome.ok && REASONS.includes(outcome.value),
      `decodeRefused gave ${String(outcome.ok && outcome.value)}`,
    );
    check(decodeRefused(encodeRefused(reason)) === reason, `${reason} did not round-trip`);
  }),
);

const u64 = defineProperty('channel/u64/round-trip', 30_000, 500, () =>
  fc.property(
    fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    fc.uint8Array({ minLength: 8, maxLength: 8 }),
    (n, raw) => {
      const out = new Uint8Array(8);
      writeU64(out, 0, n);
      check(readU64(out, 0) === n, `${n} did not round-trip`);
      const big = Buffer.from(raw).readBigUInt64BE(0);
      const read = readU64(raw, 0);
      check(big >= 2n ** 53n ? read === -1 : BigInt(read) === big, `readU64(${hex(raw)}) = ${read}`);
    },
  ),
);

// --- envelope --------------------------------------------------------------------------------------------

/** The whole encoded message of an envelope. */
function written(envelope: Envelope): Uint8Array {
  const out = new Uint8Array(envelope.length);
  envelope.write(0, envelope.length, out, 0);
  return out;
}

/**
 * An envelope written whole decodes to the message; written piece by piece at any cut points (as chunks are
 * built), it gives the very same bytes.
 */
const envelopeRoundTrip = defineProperty('channel/envelope/round-trip', 15_000, 300, () =>
  fc.property(
    transportMessageArb,
    bodyArb,
    fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
    ({ onwardRoute, returnRoute }, body, cuts) => {
      const envelope = Envelope.of(onwardRoute, returnRoute, body, Number.MAX_SAFE_INTEGER);
      const whole = written(envelope);
      const decoded = decodeEnvelope(whole);
      check(
        decoded.onwardRoute.equals(onwardRoute) && decoded.returnRoute.equals(returnRoute),
        'envelope routes changed',
      );
      check(sameBody(decoded.body, body), 'envelope body changed');
      const pieces = envelope.inPieces();
      const out = new Uint8Array(pieces.length + 3);
      for (let from = 0, i = 0; from < pieces.length; i++) {
        const size = Math.min(cuts[i % cuts.length]!, pieces.length - from);
        pieces.write(from, size, out, 3 + from);
        from += size;
      }
      check(sameBytes(out.subarray(3), whole), 'an envelope written in pieces differs from the whole');
    },
  ),
);

const envelopeMutated = defineProperty('channel/envelope/mutated', 30_000, 500, () =>
  fc.property(
    mutatedArb(
      fc
        .tuple(transportMessageArb, bodyArb)
        .map(([m, body]) =>
          written(Envelope.of(m.onwardRoute, m.returnRoute, body, Number.MAX_SAFE_INTEGER)),
        ),
    ),
    ({ mutated }) => {
      traceCase(mutated);
      decodeOrRefuse(ENVELOPE_REFUSAL, () => decodeEnvelope(mutated));
    },
  ),
);

// --- reassembly ------------------------------------------------------------------------------------------

/** One `Reassembly.add` call: a genuine piece of a message, or a piece of a shape that must be refused. */
type PieceOp =
  | { readonly kind: 'piece'; readonly message: number; readonly index: number }
  | { readonly kind: 'bad-length'; readonly message: number; readonly index: number; readonly delta: number }
  | { readonly kind: 'bad-index'; readonly message: number; readonly extra: number }
  | { readonly kind: 'bad-total'; readonly message: number; readonly index: number; readonly total: number };

/** The documented semantics of `Reassembly`, as a plain model. */
class ReassemblyModel {
  private readonly partials = new Map<number, { total: number; arrived: Map<number, Uint8Array> }>();
  /** The bytes of the last message completed: its pieces in order. */
  whole: Uint8Array | undefined;
  constructor(
    private readonly maxMessageSize: number,
    private readonly maxPartial: number,
  ) {}

  /** 'whole', 'pending', or the error code. */
  add(
    id: number,
    total: number,
    index: number,
    piece: Uint8Array,
  ): 'whole' | 'pending' | 'TOO_LARGE' | 'MALFORMED' {
    const length = piece.length;
    if (total > this.maxMessageSize) return 'TOO_LARGE';
    const pieces = Math.ceil(total / CHUNK_PIECE_LENGTH);
    if (
      total === 0 ||
      index >= pieces ||
      length !== Math.min(CHUNK_PIECE_LENGTH, total - index * CHUNK_PIECE_LENGTH)
    )
      return 'MALFORMED';
    const partial = this.partials.get(id);
    if (partial === undefined) {
      if (pieces === 1) {
        this.whole = piece;
        return 'whole';
      }
      if (this.partials.size >= this.maxPartial)
        this.partials.delete(this.partials.keys().next().value as number);
      this.partials.set(id, { total, arrived: new Map([[index, piece]]) });
      return 'pending';
    }
    if (partial.total !== total || partial.arrived.has(index)) {
      this.partials.delete(id);
      return 'MALFORMED';
    }
    partial.arrived.set(index, piece);
    if (partial.arrived.size < pieces) return 'pending';
    this.partials.delete(id);
    this.whole = concatBytes([...partial.arrived.entries()].sort(([a], [b]) => a - b).map(([, p]) => p));
    return 'whole';
  }

  get pending(): number {
    return this.partials.size;
  }
}

const TOTALS = [
  1,
  100,
  CHUNK_PIECE_LENGTH - 1,
  CHUNK_PIECE_LENGTH,
  CHUNK_PIECE_LENGTH + 1,
  2 * CHUNK_PIECE_LENGTH + 7,
  3 * CHUNK_PIECE_LENGTH,
];

/**
 * Pieces of a few messages in any order, repeated, interleaved with pieces of impossible shapes (a wrong
 * length, an index past the end, a total that contradicts the partial message or exceeds the maximum): every
 * call agrees with the model, whole messages come back byte for byte, and nothing is allocated beyond the
 * declared total of a message within the maximum.
 */
const reassembly = defineProperty('channel/reassembly/model', 3_000, 100, () => {
  const opArb: fc.Arbitrary<PieceOp> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('piece' as const),
        message: fc.nat({ max: 3 }),
        index: fc.nat({ max: 3 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('bad-length' as const),
        message: fc.nat({ max: 3 }),
        index: fc.nat({ max: 3 }),
        delta: fc.constantFrom(-1, 1, -100),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('bad-index' as const),
        message: fc.nat({ max: 3 }),
        extra: fc.constantFrom(0, 1, 0xfffffff),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('bad-total' as const),
        message: fc.nat({ max: 3 }),
        index: fc.nat({ max: 3 }),
        total: fc.constantFrom(0, 1, CHUNK_PIECE_LENGTH * 2, 2 ** 24 + 1, 0xffffffff),
      }),
    },
  );
  return fc.property(
    fc.uniqueArray(
      fc.record({ id: fc.constantFrom(0, 1, 7, 0xffffffff), total: fc.constantFrom(...TOTALS) }),
      {
        minLength: 1,
        maxLength: 4,
        selector: (m) => m.id,
      },
    ),
    fc.array(opArb, { minLength: 1, maxLength: 24 }),
    fc.integer({ min: 1, max: 3 }),
    fc.constantFrom(CHUNK_PIECE_LENGTH * 2, 2 ** 24),
    (messages, ops, maxPartial, maxMessageSize) => {
      const bodies = messages.map(({ id, total }, m) => {
        const body = new Uint8Array(total).fill(m + 1);
        for (let i = 0; i < total; i += 997) body[i] = (i + id) & 0xff;
        return body;
      });
      const subject = new Reassembly(maxMessageSize, maxPartial, 2 ** 40, new ByteBudget(2 ** 40, 'fuzz'));
      const model = new ReassemblyModel(maxMessageSize, maxPartial);
      for (const op of ops) {
        const m = op.message % messages.length;
        const { id, total } = messages[m]!;
        const pieces = Math.ceil(total / CHUNK_PIECE_LENGTH);
        let index = op.kind === 'bad-index' ? pieces + op.extra : op.index % pieces;
        let declared = total;
        let piece = bodies[m]!.subarray(
          index * CHUNK_PIECE_LENGTH,
          Math.min(total, (index + 1) * CHUNK_PIECE_LENGTH),
        );
        if (op.kind === 'bad-length') piece = new Uint8Array(Math.max(0, piece.length + op.delta));
        if (op.kind === 'bad-total') declared = op.total;
        if (op.kind === 'bad-index') index = pieces + op.extra;
        const expected = model.add(id, declared, index, piece);
        let whole: Uint8Array | undefined;
        const measured = measureAllocations(() => {
          whole = subject.add(id, declared, index, piece);
        });
        const bound = Math.min(declared, maxMessageSize);
        check(
          measured.largest <= bound + ALLOCATION_SLACK,
          `asked for ${measured.largest} bytes for a message declaring ${declared}`,
        );
        if (measured.error !== undefined) {
          const error = expectRefusal(REASSEMBLY_REFUSAL, measured.error);
          check(
            error.code === expected,
            `add(${id}, ${declared}, ${index}, ${piece.length} bytes) threw ${error.code}, model says ${expected}`,
          );
        } else if (whole === undefined) {
          check(
            expected === 'pending',
            `add(${id}, ${declared}, ${index}) is pending, model says ${expected}`,
          );
        } else {
          check(expected === 'whole', `add(${id}, ${declared}, ${index}) completed, model says ${expected}`);
          check(sameBytes(whole, model.whole!), `message ${id} came back with other bytes than its pieces`);
        }
        check(
          subject.pending === model.pending,
          `${subject.pending} partial messages, model has ${model.pending}`,
        );
        check(subject.pending <= maxPartial, 'more partial messages than allowed');
      }
    },
  );
});

// --- replay window ---------------------------------------------------------------------------------------

/** The documented semantics of `ReplayWindow`: a set of marked nonces and the highest one. */
class ReplayModel {
  private readonly marked = new Set<number>();
  private highest = -1;
  constructor(private readonly size: number) {}
  check(n: number): 'fresh' | 'replayed' | 'too-old' {
    if (n > this.highest) return 'fresh';
    if (this.highest - n >= this.size) return 'too-old';
    return this.marked.has(n) ? 'replayed' : 'fresh';
  }
  mark(n: number): void {
    this.marked.add(n);
    this.highest = Math.max(this.highest, n);
  }
}

const replayWindow = defineProperty('channel/replay-window/model', 20_000, 500, () =>
  fc.property(
    fc.constantFrom(1, 2, 31, 32, 33, 64, 100, 1024),
    fc.array(
      fc.record({
        step: fc.oneof(
          fc.integer({ min: -40, max: 40 }),
          fc.integer({ min: -5000, max: 5000 }),
          fc.constantFrom(2 ** 40, -(2 ** 40)),
        ),
        authentic: fc.boolean(),
      }),
      { minLength: 1, maxLength: 60 },
    ),
    (size, steps) => {
      const window = new ReplayWindow(size);
      const model = new ReplayModel(size);
      let n = 0;
      for (const { step, authentic } of steps) {
        n = Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, n + step));
        const verdict = window.check(n);
        check(
          verdict === model.check(n),
          `nonce ${n} (window ${size}): ${verdict}, model says ${model.check(n)}`,
        );
        // Only fresh frames that authenticated are marked (the channel's rule).
        if (verdict === 'fresh' && authentic) {
          window.mark(n);
          model.mark(n);
        }
      }
    },
  ),
);

// --- a secure channel receiving DATA frames ---------------------------------------------------------------

/** A context whose node only records what is delivered: all a `SecureChannel` needs to send and receive. */
function recordingContext(delivered: LocalMessage[]): Context {
  const node = {
    once: () => undefined, // channels listen for their node's `stopping`
    on: () => undefined, // ... and `workerStopped`
  };
  return {
    node,
    deliver: (message: LocalMessage) => {
      // As the router hands a frame made of parts to any recipient but a connection: joined.
      const body = message.body;
      delivered.push(body instanceof ByteParts ? message.withBody(body.join()) : message);
      return QUEUED;
    },
    hasWorker: () => false,
    stopWorker: () => Promise.resolve(),
    isNodeStopped: false,
  } as unknown as Context;
}

interface ChannelPair {
  readonly sender: SecureChannel;
  readonly receiver: SecureChannel;
  /** Frames the sender has sent so far (each a DATA frame), in order. */
  frames(): Uint8Array[];
  /** Messages the receiver delivered. */
  readonly delivered: LocalMessage[];
}

/** Two channel ends sharing transport keys, as a completed handshake leaves them, with no node under them. */
function channelPair(cipherName: string, limits: ChannelLimits): ChannelPair {
  const cipher = parseProtocolName(`Noise_XX_25519_${cipherName}_SHA256`).cipher;
  const s = sodium();
  const forward = s.randombytes_buf(32);
  const backward = s.randombytes_buf(32);
  const sent: LocalMessage[] = [];
  const delivered: LocalMessage[] = [];
  const end = (
    send: Uint8Array,
    receive: Uint8Array,
    initiator: boolean,
    record: LocalMessage[],
  ): SecureChannel => {
    const outcome: HandshakeOutcome = {
      ciphers: { send: new CipherState(cipher, send), receive: new CipherState(cipher, receive) },
      remote: undefined,
      remoteStaticKey: undefined,
      handshakeHash: new Uint8Array(32),
      protocolName: 'Noise_XX_25519_ChaChaPoly_SHA256',
      peer: { maxMessageSize: limits.maxMessageSize, rekeyInterval: limits.rekeyInterval },
      confirms: initiator,
    };
    const decryptorAddress = Address.unique('fuzz.d.');
    return new SecureChannel({
      ctx: recordingContext(record),
      decryptorAddress,
      replyRoute: Route.of([decryptorAddress]),
      encryptorAddress: Address.unique('fuzz.e.'),
      peerRoute: Route.of([Address.local('peer')]),
      outcome,
      limits,
      initiator,
      logger: silentLogger,
    });
  };
  const sender = end(forward, backward, true, sent);
  const receiver = end(backward, forward, false, delivered);
  return { sender, receiver, frames: () => sent.map((m) => m.body as Uint8Array), delivered };
}

/** What the adversary on the route does between genuine frames. */
type Injection =
  | { readonly kind: 'mutated'; readonly of: number; readonly mutations: readonly Mutation[] }
  | { readonly kind: 'replay'; readonly of: number }
  | { readonly kind: 'noise'; readonly bytes: Uint8Array }
  | { readonly kind: 'nonce'; readonly of: number; readonly nonce: number };

const injectionArb: fc.Arbitrary<Injection> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('mutated' as const),
      of: fc.nat(),
      mutations: fc.array(mutationArb(), { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('replay' as const), of: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('noise' as const), bytes: noiseArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('nonce' as const),
      of: fc.nat(),
      nonce: fc.oneof(fc.nat({ max: 100 }), fc.constantFrom(2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 64 - 1)),
    }),
  },
);

const sentMessageArb = fc.record({
  onward: fc.array(fc.constantFrom('echoer', '0#a', '1#127.0.0.1:4000'), { maxLength: 3 }),
  body: fc.oneof(
    { weight: 12, arbitrary: bodyArb },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: MAX_SINGLE_FRAME_MESSAGE - 40, max: 2 * CHUNK_PIECE_LENGTH + 100 })
        .map((n) => new Uint8Array(n).fill(7)),
    },
  ),
});

/**
 * A channel end receiving the genuine frames of a conversation, with forged, mutated, replayed, re-nonced and
 * random frames injected before each: it never throws; it delivers exactly the messages that were sent, each
 * once and in order (the injected frames neither get through nor disturb the window, the epoch keys or the
 * reassembly); every frame it did not accept is counted as dropped; and the peer's CLOSE closes it.
 */
const channelFrames = defineProperty('channel/secure-channel/receive-frame', 15_000, 100, async () => {
  await sodiumReady();
  return fc.property(
    fc.record({
      cipher: fc.constantFrom('ChaChaPoly', 'AESGCM'),
      rekeyInterval: fc.constantFrom(1, 2, 3, 65_536),
      replayWindow: fc.constantFrom(1, 4, 64),
      maxPartialMessages: fc.constantFrom(1, 4),
    }),
    fc.array(sentMessageArb, { minLength: 1, maxLength: 6 }),
    fc.array(fc.array(injectionArb, { maxLength: 3 }), { maxLength: 24 }),
    fc.boolean(),
    (options, messages, injections, close) => {
      const limits: ChannelLimits = {
        maxMessageSize: 4 * CHUNK_PIECE_LENGTH,
        closedLinger: 10_000,
        keepaliveInterval: 0, // no timers: a property run is synchronous
        peerTimeout: 30_000,
        idleTimeout: 0,
        maxReassemblyBytes: 2 ** 40,
        reorderTimeout: 60_000,
        maxReorderBytes: 2 ** 40,
        maxUnackedBytes: 2 ** 40,
        retransmitInterval: 60_000,
        ...options,
      };
      const pair = channelPair(options.cipher, limits);
      const returnRoute = Route.of([Address.local('app')]);
      for (const m of messages)
        pair.sender.end.encryptor.transmit(Route.parse(m.onward.join(' => ')), returnRoute, m.body);
      if (close) void pair.sender.end.lifecycle.sendClose();
      const frames = pair.frames();
      const { receiver, delivered } = pair;
      const dropped = (): number => {
        const d = receiver.stats.dropped;
        return d.decryptFailed + d.replayed + d.tooOld + d.malformed + d.tooLarge;
      };
      const feed = (frame: Uint8Array, genuine: boolean): void => {
        traceCase(frame);
        const before = { received: receiver.stats.framesReceived, dropped: dropped() };
        const outcome = decodeOrRefuse({ name: 'none', codes: [] }, () =>
          receiver.end.decryptor.receive(frame),
        );
        check(
          outcome.ok && outcome.value === undefined,
          'receiveFrame returned a promise with no backpressure',
        );
        if (receiver.isClosed) return;
        const accepted = receiver.stats.framesReceived - before.received;
        const refused = dropped() - before.dropped;
        check(accepted + refused >= 1, `a frame was neither received nor counted as dropped: ${hex(frame)}`);
        if (!genuine) check(accepted === 0, `a forged frame was accepted: ${hex(frame)}`);
      };
      const forge = (injection: Injection, next: number): Uint8Array | undefined => {
        const pick = (of: number): Uint8Array => frames[of % frames.length]!;
        switch (injection.kind) {
          case 'mutated': {
            const original = pick(injection.of);
            const forged = applyMutations(original, injection.mutations);
            forged[0] = FrameType.DATA;
            // An unchanged copy of a frame not yet delivered would be a genuine frame, early.
            return frames.some((f, i) => i >= next && sameBytes(f, forged)) ? undefined : forged;
          }
          case 'replay':
            return next === 0 ? undefined : frames[injection.of % next]!.slice();
          case 'noise':
            return concatBytes([Uint8Array.of(FrameType.DATA), injection.bytes]);
          case 'nonce': {
            const forged = pick(injection.of).slice();
            if (injection.nonce === frames.indexOf(pick(injection.of))) return undefined;
            writeNonce(forged, injection.nonce);
            return forged;
          }
        }
      };
      for (let i = 0; i < frames.length; i++) {
        for (const injection of injections[i] ?? []) {
          const forged = forge(injection, i);
          if (forged !== undefined && !receiver.isClosed) feed(forged, false);
        }
        if (!receiver.isClosed) feed(frames[i]!, true);
      }
      check(
        delivered.length === messages.length,
        `${delivered.length} of ${messages.length} messages delivered`,
      );
      delivered.forEach((got, i) => {
        const sent = messages[i]!;
        check(
          got.onwardRoute.equals(Route.parse(sent.onward.join(' => '))),
          `message ${i} arrived with another onward route`,
        );
        check(
          got.returnRoute.equals(returnRoute.prepend(receiver.address)),
          `message ${i} arrived with another return route`,
        );
        check(sameBody(got.body, sent.body), `message ${i} arrived with another body`);
      });
      check(
        receiver.isClosed === close,
        close ? 'the peer’s CLOSE did not close the channel' : 'the channel closed by itself',
      );
      check(receiver.stats.dropped.evicted === 0, 'a partial message was evicted on an in-order stream');
    },
  );
});

function writeNonce(frame: Uint8Array, nonce: number): void {
  if (frame.length < 9) return;
  const big = BigInt(nonce >= 2 ** 64 ? 2n ** 64n - 1n : BigInt(nonce));
  Buffer.from(frame.buffer, frame.byteOffset, 9).writeBigUInt64BE(big, 1);
}

// --- handshake payloads from an authenticated but hostile peer -------------------------------------------

interface Peers {
  readonly listener: LocalStatic;
  readonly peer: LocalStatic;
}
let peers: Promise<Peers> | undefined;

async function makePeers(): Promise<Peers> {
  const [listener, peer] = await twoLocalStatics();
  return { listener, peer };
}

/**
 * The identity payload an honest peer writes:
 * `version flags [identity-key binding] max-message-size rekey-interval extension*`
 * (src/channel/identity-payload.ts), with `extensions` (encoded) after the fixed part.
 */
function identityPayload(
  peer: LocalStatic | undefined,
  extensions: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const fixed = peer === undefined ? 10 : 106;
  const out = new Uint8Array(fixed + extensions.length);
  const view = new DataView(out.buffer);
  out[0] = 1;
  let at = 2;
  if (peer !== undefined) {
    out[1] = 1;
    out.set(peer.identity.publicKey, 2);
    out.set(peer.binding, 34);
    at = 98;
  }
  view.setUint32(at, 1 << 20);
  view.setUint32(at + 4, 1000);
  out.set(extensions, fixed);
  return out;
}

/**
 * The largest identity payload each pattern's message can carry (65,535 bytes less the keys and tags it
 * holds): XX's third message (`s` and two tags), IK's first (`e`, `s`, two tags), NK's first (`e`, a tag).
 */
const MAX_IDENTITY_PAYLOAD: Readonly<Record<string, number>> = {
  XX: 65_535 - 64,
  IK: 65_535 - 96,
  NK: 65_535 - 48,
};

/** Extensions of any type (credentials, delivery, unknown), mostly short, some as long as they can be. */
const extensionsArb = fc.array(
  fc.record({
    type: fc.oneof(fc.constantFrom(1, 2), fc.nat({ max: 255 })),
    length: fc.oneof(fc.nat({ max: 8 }), fc.integer({ min: 1_000, max: 0xffff })),
    seed: fc.integer(),
  }),
  { maxLength: 3 },
);

/** Encodes extensions within `room` bytes; with `fill`, the last one grows to fill it (a payload of the largest size). */
function encodeExtensions(
  list: readonly { type: number; length: number; seed: number }[],
  room: number,
  fill: boolean,
): Uint8Array {
  const parts: Uint8Array[] = [];
  let left = room;
  for (const [i, e] of list.entries()) {
    if (left < 3) break;
    const last = i === list.length - 1;
    const length = Math.min(0xffff, left - 3, fill && last ? Infinity : e.length);
    const part = new Uint8Array(3 + length);
    part[0] = e.type;
    part[1] = length >>> 8;
    part[2] = length & 0xff;
    let x = e.seed | 1;
    for (let j = 3; j < part.length; j++) part[j] = (x = (x * 1103515245 + 12345) | 0) >>> 24;
    parts.push(part);
    left -= part.length;
  }
  return concatBytes(parts);
}

/**
 * A peer that completes the Noise handshake properly (so every message authenticates) but writes a mutated
 * identity payload (flags, identity key, binding signature, announced limits): the listener's `Handshake.read`
 * either accepts it (then the outcome carries exactly the limits the payload announced, and an identity only if
 * the binding verified) or refuses with a SecureChannelError, never a raw Noise or identity error.
 */
const handshakePayload = defineProperty('channel/handshake/identity-payload', 5_000, 40, async () => {
  await sodiumReady();
  peers ??= makePeers();
  const { listener, peer } = await peers;
  return fc.asyncProperty(
    fc.constantFrom('XX', 'IK', 'NK'),
    fc.array(mutationArb(), { maxLength: 3 }),
    extensionsArb,
    fc.boolean(),
    async (pattern, mutations, extensions, fill) => {
      const protocolName = `Noise_${pattern}_25519_ChaChaPoly_SHA256`;
      const anonymous = pattern === 'NK';
      const room = MAX_IDENTITY_PAYLOAD[pattern]! - (anonymous ? 10 : 106);
      const honest = identityPayload(anonymous ? undefined : peer, encodeExtensions(extensions, room, fill));
      const payload = applyMutations(honest, mutations);
      // Grown past what one Noise message holds: no peer can send it.
      if (payload.length > MAX_IDENTITY_PAYLOAD[pattern]!) return;
      traceCase(payload);
      const settings = {
        local: listener,
        trustPolicy: TrustEveryone,
        parameters: { maxMessageSize: 1 << 20, rekeyInterval: 1000 },
      };
      const subject = await Handshake.create(false, protocolName, settings);
      const hostile = await HandshakeState.create({
        protocolName,
        initiator: true,
        prologue: PROLOGUE,
        s: anonymous ? undefined : peer.key,
        rs: pattern === 'XX' ? undefined : listener.key.publicKey,
      });
      const identityAt = pattern === 'XX' ? 2 : 0;
      let result: HandshakeOutcome | undefined;
      for (let step = 0; result === undefined; step += 2) {
        const message = await hostile.writeMessage(step === identityAt ? payload : new Uint8Array(0));
        const read = await decodeOrRefuseAsync(HANDSHAKE_REFUSAL, () => subject.read(message));
        if (!read.ok) {
          check(step === identityAt, `the listener refused message ${step}, before the identity payload`);
          return;
        }
        result = read.value.outcome;
        if (result !== undefined) break;
        check(read.value.reply !== undefined, 'the listener neither replied nor finished');
        // The reply carries the listener's own identity payload: the hostile side reads it and goes on.
        await hostile.readMessage(read.value.reply!.subarray(1));
      }
      const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      const at = payload[1] === 1 ? 98 : 2;
      check(
        result.peer.maxMessageSize === view.getUint32(at) &&
          result.peer.rekeyInterval === view.getUint32(at + 4),
        'the outcome does not carry the announced limits',
      );
      check(result.peer.rekeyInterval > 0, 'a rekey interval of 0 was accepted');
      if (anonymous) check(result.remote === undefined, 'an anonymous initiator got an identity');
      else {
        check(result.remote !== undefined, 'an identified peer was accepted without an identity');
        check(
          sameBytes(result.remote.publicKey, payload.subarray(2, 34)),
          'the identity is not the one in the payload',
        );
        check(
          sameBytes(payload.subarray(1, 98), identityPayload(peer).subarray(1, 98)),
          'a forged identity proof was accepted',
        );
      }
    },
  );
});

/** The secure channel's properties: frames, envelopes, reassembly, replay window, DATA frames, handshake. */
export const channelProperties: readonly FuzzProperty[] = [
  helloRoundTrip,
  helloMutated,
  refused,
  u64,
  envelopeRoundTrip,
  envelopeMutated,
  reassembly,
  replayWindow,
  channelFrames,
  handshakePayload,
  ...dispatchProperties,
];
