import fc from 'fast-check';
import { HandshakeState, generateStaticKey, parseProtocolName, type NoiseStaticKey } from '../../src/noise';
import { sodiumReady } from '../../src/crypto/sodium';
import { applyMutations, mutationArb, noiseArb, type Mutation } from './mutate';
import {
  check,
  decodeOrRefuseAsync,
  defineProperty,
  expectRefusal,
  fillerBytes,
  hex,
  sameBytes,
  traceCase,
  type FuzzProperty,
  type Refusal,
} from './support';

/** What `readMessage` may throw for a message that is not the genuine one. */
const READ_REFUSAL: Refusal = { name: 'NoiseError', codes: ['BAD_MESSAGE', 'DECRYPT_FAILED', 'INVALID_KEY'] };
/** What `writeMessage` may throw after a tampered read: a low-order key met in a DH. */
const WRITE_REFUSAL: Refusal = { name: 'NoiseError', codes: ['INVALID_KEY'] };

const PROTOCOLS: readonly string[] = ['XX', 'IK', 'NK'].flatMap((pattern) =>
  ['ChaChaPoly', 'AESGCM'].flatMap((cipher) =>
    ['SHA256', 'SHA512', 'BLAKE2b', 'BLAKE2s'].map((hash) => `Noise_${pattern}_25519_${cipher}_${hash}`),
  ),
);

/** Every (protocol, message index) a reader can be fed at. */
const STEPS: readonly { readonly protocol: string; readonly step: number }[] = PROTOCOLS.flatMap((protocol) =>
  parseProtocolName(protocol).pattern.messages.map((_tokens, step) => ({ protocol, step })),
);

/** The X25519 points of small order (RFC 7748 section 7; libsodium's blocklist): DH with them gives zero. */
const LOW_ORDER_POINTS: readonly Uint8Array[] = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map((h) => Uint8Array.from(Buffer.from(h, 'hex')));

const PROLOGUE = new TextEncoder().encode('sealroute/fuzz');
const EMPTY = new Uint8Array(0);

/** The payload the genuine side writes at message `i`: lengths vary so payload parsing is exercised too. */
function payloadFor(i: number): Uint8Array {
  return Uint8Array.from({ length: i * 5 }, (_, j) => (i * 31 + j) & 0xff);
}

interface Keys {
  readonly initiator: NoiseStaticKey;
  readonly responder: NoiseStaticKey;
}

/**
 * A handshake run up to the message a reader is about to read: the genuine message and both sides. A refused
 * message commits nothing, so one scenario serves every mutated message until one is accepted.
 */
interface Scenario {
  readonly protocol: string;
  readonly step: number;
  readonly initiator: HandshakeState;
  readonly responder: HandshakeState;
  readonly writer: HandshakeState;
  readonly reader: HandshakeState;
  readonly genuine: Uint8Array;
}

let keys: Promise<Keys> | undefined;
const scenarios = new Map<string, Scenario>();

async function prepare(protocol: string, step: number): Promise<Scenario> {
  const key = `${protocol}/${step}`;
  const cached = scenarios.get(key);
  if (cached !== undefined) return cached;
  const { initiator: iKey, responder: rKey } = await keys!;
  const pattern = parseProtocolName(protocol).pattern.name;
  const initiator = await HandshakeState.create({
    protocolName: protocol,
    initiator: true,
    prologue: PROLOGUE,
    s: pattern === 'NK' ? undefined : iKey,
    rs: pattern === 'XX' ? undefined : rKey.publicKey,
  });
  const responder = await HandshakeState.create({
    protocolName: protocol,
    initiator: false,
    prologue: PROLOGUE,
    s: rKey,
  });
  const sides = (i: number): [HandshakeState, HandshakeState] =>
    i % 2 === 0 ? [initiator, responder] : [responder, initiator];
  for (let i = 0; i < step; i++) {
    const [writer, reader] = sides(i);
    await reader.readMessage(await writer.writeMessage(payloadFor(i)));
  }
  const [writer, reader] = sides(step);
  const genuine = await writer.writeMessage(payloadFor(step));
  const scenario = { protocol, step, initiator, responder, writer, reader, genuine };
  scenarios.set(key, scenario);
  return scenario;
}

/** Scenarios are shared between cases; one whose reader moved on is dropped and rebuilt next time. */
function consume(s: Scenario): void {
  scenarios.delete(`${s.protocol}/${s.step}`);
}

/**
 * Plays the rest of the handshake from message `from`. Returns 'complete' when both sides finished (and
 * then checks they agree: same handshake hash, each side's send key is the other's receive key), or the
 * typed error one side refused with.
 */
async function playOut(s: Scenario, from: number): Promise<'complete' | 'refused'> {
  for (let i = from; !(s.initiator.isComplete && s.responder.isComplete); i++) {
    const [writer, reader] = i % 2 === 0 ? [s.initiator, s.responder] : [s.responder, s.initiator];
    let message: Uint8Array;
    try {
      message = await writer.writeMessage(payloadFor(i));
    } catch (error) {
      expectRefusal(WRITE_REFUSAL, error);
      return 'refused';
    }
    try {
      const payload = await reader.readMessage(message);
      check(sameBytes(payload, payloadFor(i)), `message ${i} decrypted to another payload`);
    } catch (error) {
      expectRefusal(READ_REFUSAL, error);
      return 'refused';
    }
  }
  check(
    sameBytes(s.initiator.handshakeHash, s.responder.handshakeHash),
    'the sides disagree on the handshake hash',
  );
  const a = s.initiator.split();
  const b = s.responder.split();
  const probe = Uint8Array.of(1, 2, 3);
  check(
    sameBytes(b.receive.decryptWithAd(EMPTY, a.send.encryptWithAd(EMPTY, probe)), probe),
    'initiator to responder keys differ',
  );
  check(
    sameBytes(a.receive.decryptWithAd(EMPTY, b.send.encryptWithAd(EMPTY, probe)), probe),
    'responder to initiator keys differ',
  );
  return 'complete';
}

/**
 * Feeds `message` to the scenario's reader in place of the genuine one. Refused: a typed NoiseError, and the
 * reader is untouched (with `verify`, it then reads the genuine message and the handshake completes). Accepted:
 * it was the genuine message (the handshake then completes), or it was not, and then it must have been a
 * message nothing authenticates yet (only XX's first), and the handshake must fail later: two sides never
 * agree on keys over a transcript one of them did not send.
 */
async function feed(s: Scenario, message: Uint8Array, verify: boolean): Promise<void> {
  traceCase(message);
  const outcome = await decodeOrRefuseAsync(READ_REFUSAL, () => s.reader.readMessage(message));
  if (!outcome.ok) {
    check(s.reader.turn === 'read', 'a refused message moved the reader on');
    if (!verify) return;
    consume(s);
    const payload = await s.reader.readMessage(s.genuine);
    check(
      sameBytes(payload, payloadFor(s.step)),
      'the genuine message, read after a refused one, gave another payload',
    );
    check((await playOut(s, s.step + 1)) === 'complete', 'the handshake failed after a refused message');
    return;
  }
  consume(s);
  if (sameBytes(message, s.genuine)) {
    check(sameBytes(outcome.value, payloadFor(s.step)), 'the genuine message gave another payload');
    check((await playOut(s, s.step + 1)) === 'complete', 'the genuine handshake failed');
    return;
  }
  const isLast = s.reader.isComplete;
  check(!isLast, `the last handshake message was accepted with tampering: ${hex(message)}`);
  check(
    (await playOut(s, s.step + 1)) === 'refused',
    `a handshake completed over a tampered message: ${hex(message)}`,
  );
}

async function setUp(): Promise<void> {
  await sodiumReady();
  keys ??= Promise.all([generateStaticKey(), generateStaticKey()]).then(([initiator, responder]) => ({
    initiator,
    responder,
  }));
  await keys;
}

const stepArb = fc.constantFrom(...STEPS);

const mutated = defineProperty('noise/read-message/mutated', 40_000, 250, async () => {
  await setUp();
  return fc.asyncProperty(
    stepArb,
    fc.array(mutationArb(), { minLength: 1, maxLength: 4 }),
    fc.nat({ max: 7 }),
    async ({ protocol, step }, mutations: Mutation[], verify) => {
      const s = await prepare(protocol, step);
      await feed(s, applyMutations(s.genuine, mutations), verify === 0);
    },
  );
});

/** Random messages of any length, oversize (> 65535 bytes) included, at every step. */
const random = defineProperty('noise/read-message/noise', 20_000, 150, async () => {
  await setUp();
  return fc.asyncProperty(
    stepArb,
    fc.oneof(
      { weight: 8, arbitrary: noiseArb },
      { weight: 1, arbitrary: fc.integer({ min: 65_536, max: 70_000 }).map((n) => new Uint8Array(n)) },
    ),
    async ({ protocol, step }, message) => {
      await feed(await prepare(protocol, step), message, false);
    },
  );
});

/**
 * Large messages, up to the Noise maximum of 65535 bytes (and just over it): the genuine message with a tail
 * of random bytes (a payload that does not authenticate), or with its end overwritten, or random bytes alone.
 */
const large = defineProperty('noise/read-message/large', 6_000, 20, async () => {
  await setUp();
  return fc.asyncProperty(
    stepArb,
    // Exactly at the maximum and one past it as often as anywhere else in 1 KiB..64 KiB.
    fc.oneof(fc.integer({ min: 1024, max: 65_540 }), fc.constantFrom(65_534, 65_535, 65_536)),
    fc.integer(),
    fc.constantFrom('tail', 'overwrite', 'random'),
    async ({ protocol, step }, length, seed, kind) => {
      const s = await prepare(protocol, step);
      let message = fillerBytes(length, seed);
      if (kind !== 'random') {
        const genuine = s.genuine.subarray(0, kind === 'overwrite' ? s.genuine.length >> 1 : undefined);
        message.set(genuine.subarray(0, Math.min(genuine.length, length)), 0);
      }
      if (kind === 'tail' && length < s.genuine.length) message = s.genuine.slice();
      await feed(s, message, false);
    },
  );
});

/**
 * Genuine messages whose ephemeral key is replaced by a point of small order: refused as INVALID_KEY by the
 * first DH that uses it (for XX's first message, which has no DH, by the responder's next write), never
 * mixed in as an all-zero secret.
 */
const lowOrder = defineProperty('noise/read-message/low-order-keys', 5_000, 60, async () => {
  await setUp();
  // Only messages that start with the sender's ephemeral key (all but XX's third, which starts with s).
  const withE = STEPS.filter(
    ({ protocol, step }) => parseProtocolName(protocol).pattern.messages[step]![0] === 'e',
  );
  return fc.asyncProperty(
    fc.constantFrom(...withE),
    fc.constantFrom(...LOW_ORDER_POINTS),
    async ({ protocol, step }, point) => {
      const s = await prepare(protocol, step);
      const message = s.genuine.slice();
      message.set(point, 0);
      traceCase(message);
      const outcome = await decodeOrRefuseAsync(READ_REFUSAL, () => s.reader.readMessage(message));
      if (!outcome.ok) {
        check(
          outcome.error.code === 'INVALID_KEY',
          `a low-order key was refused as ${outcome.error.code}, not INVALID_KEY`,
        );
        return;
      }
      consume(s);
      check(
        protocol.startsWith('Noise_XX') && step === 0,
        'a low-order ephemeral key was accepted where a DH uses it',
      );
      const write = await decodeOrRefuseAsync(WRITE_REFUSAL, () => s.reader.writeMessage(payloadFor(1)));
      check(!write.ok, 'the responder wrote a DH with a low-order key');
    },
  );
});

/** The Noise handshake's properties. */
export const noiseProperties: readonly FuzzProperty[] = [mutated, random, large, lowOrder];
