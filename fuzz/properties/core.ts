import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { Address } from '../../src/core/address';
import { decodeBody, encodeBody, encodedBodySize } from '../../src/core/codec';
import type { TransportMessage } from '../../src/core/message';
import { Route } from '../../src/core/route';
import {
  MAX_ADDRESS_BYTES,
  MAX_ROUTE_LENGTH,
  WIRE_VERSION,
  decodeTransportMessage,
  encodeTransportMessage,
  readRoute,
} from '../../src/core/wire';
import { Reader } from '../../src/core/wire-reader';
import { ALLOCATION_SLACK, measureAllocations } from './allocation-meter';
import { INTERESTING_INTEGERS, leb128, mutatedArb, noiseArb } from './mutate';
import {
  check,
  concatBytes,
  decodeOrRefuse,
  defineProperty,
  expectRefusal,
  hex,
  sameBytes,
  traceCase,
  type FuzzProperty,
  type Refusal,
} from './support';

/** What the wire decoders may throw for bad bytes (`decodeTransportMessage`, `readRoute`, `Reader`). */
const WIRE_REFUSAL: Refusal = {
  name: 'DecodeError',
  codes: ['TRUNCATED', 'MALFORMED', 'UNSUPPORTED_VERSION', 'TOO_LARGE'],
};
/** What `decodeBody` may throw (a delivery failure notice body carries its own version). */
const BODY_REFUSAL: Refusal = {
  name: 'DecodeError',
  codes: ['TRUNCATED', 'MALFORMED', 'UNSUPPORTED_VERSION'],
};
/** What `Address.parse` and `Route.parse` may throw. */
const ADDRESS_REFUSAL: Refusal = { name: 'AddressError', codes: ['INVALID_ADDRESS'] };

const utf8 = new TextEncoder();

// --- arbitraries ---------------------------------------------------------------------------------------

/**
 * Address values: short text of any code points (a leading U+FEFF included on purpose: a UTF-8 decoder that
 * strips a BOM loses it), now and then long ones up to the 1024-byte bound (256 code points of at most 4 bytes).
 */
const addressValueArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }) },
  { weight: 2, arbitrary: fc.constantFrom('echoer', '127.0.0.1:4000', 'sc.e.x1', '#', '0#a', ' a ', '=>') },
  {
    weight: 1,
    arbitrary: fc.string({ unit: 'binary', minLength: 0, maxLength: 8 }).map((s) => `\uFEFF${s}`),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 256 }) },
);

const addressTypeArb: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, 1, 9, 0x7f, 0x80, 0x3fff, 0x4000, 0xffff),
  fc.integer({ min: 0, max: 0xffff }),
);

const addressArb: fc.Arbitrary<Address> = fc
  .tuple(addressTypeArb, addressValueArb)
  .map(([type, value]) => new Address(type, value));

/** Hops for routes at the length bound: a few fixed ones, so that 64-hop routes stay cheap to generate. */
const CHEAP_HOPS: readonly Address[] = [
  Address.local('echoer'),
  new Address(1, '127.0.0.1:4000'),
  new Address(0xffff, '\uFEFFx'),
];

const routeArb: fc.Arbitrary<Route> = fc
  .oneof(
    { weight: 12, arbitrary: fc.array(addressArb, { maxLength: 5 }) },
    {
      weight: 1,
      arbitrary: fc.array(fc.constantFrom(...CHEAP_HOPS), {
        minLength: MAX_ROUTE_LENGTH - 2,
        maxLength: MAX_ROUTE_LENGTH,
      }),
    },
  )
  .map((hops) => Route.of(hops));

const payloadArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }) },
);

/** Random, valid transport messages. */
export const transportMessageArb: fc.Arbitrary<TransportMessage> = fc.record({
  onwardRoute: routeArb,
  returnRoute: routeArb,
  payload: payloadArb,
});

const validWireArb: fc.Arbitrary<Uint8Array> = transportMessageArb.map((m) => encodeTransportMessage(m));

/**
 * CBOR-encodable values that survive a round trip exactly: JSON values (objects without a `__proto__` key,
 * which cbor-x deliberately renames to `__proto_`), with byte strings mixed in.
 */
const cborValueArb: fc.Arbitrary<unknown> = fc
  .letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.jsonValue({ maxDepth: 2 }),
      fc.uint8Array({ maxLength: 32 }),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 4 }),
    ),
  }))
  .value.filter(
    (v) =>
      !JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? [...x] : x)).includes('"__proto__"'),
  );

/** Bodies of every kind `encodeBody` writes: text, bytes, CBOR. */
export const bodyArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 8 }).map((s) => `\uFEFF${s}`),
  fc.uint8Array({ maxLength: 64 }),
  cborValueArb,
);

// --- helpers ---------------------------------------------------------------------------------------------

/** Copies every byte array into a plain `Uint8Array` and folds -0 into 0, so values compare structurally. */
function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalize(v);
    return out;
  }
  return value;
}

/** Structural equality of decoded bodies (-0 and 0 are equal: CBOR writes -0 as the integer 0). */
export function sameBody(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(normalize(a), normalize(b));
}

/** The invariants every decoded route keeps, whatever bytes it came from. */
function checkRoute(route: Route, what: string): void {
  check(route.length <= MAX_ROUTE_LENGTH, `${what} has ${route.length} hops`);
  for (const address of route) {
    check(
      Number.isInteger(address.type) && address.type >= 0 && address.type <= 0xffff,
      `${what}: type ${address.type}`,
    );
    const size = utf8.encode(address.value).length;
    check(size >= 1 && size <= MAX_ADDRESS_BYTES, `${what}: address of ${size} bytes`);
  }
}

function checkMessage(message: TransportMessage, bytes: Uint8Array): void {
  checkRoute(message.onwardRoute, 'onward route');
  checkRoute(message.returnRoute, 'return route');
  // The payload is a view of the tail of the input, not a copy and not beyond it.
  check(message.payload.buffer === bytes.buffer, 'the payload is not a view into the input');
  check(
    message.payload.byteOffset + message.payload.length === bytes.byteOffset + bytes.length,
    'payload is not the tail',
  );
  // Whatever decoded re-encodes, and decodes to the same message (varints may have been non-canonical).
  const again = decodeTransportMessage(encodeTransportMessage(message));
  check(sameMessage(again, message), 'a decoded message does not survive re-encoding');
}

function sameMessage(a: TransportMessage, b: TransportMessage): boolean {
  return (
    a.onwardRoute.equals(b.onwardRoute) &&
    a.returnRoute.equals(b.returnRoute) &&
    sameBytes(a.payload, b.payload)
  );
}

/** A canary body decoded after every refused one: a decoder with global state must not be left broken. */
const CANARY = { canary: [1, 'two', new Uint8Array([3])] };
let canaryBytes: Uint8Array | undefined;

// --- properties ------------------------------------------------------------------------------------------

const wireRoundTrip = defineProperty('core/wire/round-trip', 40_000, 1_000, () =>
  fc.property(transportMessageArb, (message) => {
    const bytes = encodeTransportMessage(message);
    traceCase(bytes);
    const decoded = decodeTransportMessage(bytes);
    check(sameMessage(decoded, message), `round trip changed the message: ${hex(bytes)}`);
    // The size bound is exact: the encoded length passes, one byte less does not.
    decodeTransportMessage(bytes, bytes.length);
    const refused = decodeOrRefuse(WIRE_REFUSAL, () => decodeTransportMessage(bytes, bytes.length - 1));
    check(
      !refused.ok && refused.error.code === 'TOO_LARGE',
      'a message over maxSize was not refused as TOO_LARGE',
    );
  }),
);

const wireMutated = defineProperty('core/wire/mutated', 150_000, 2_000, () =>
  fc.property(mutatedArb(validWireArb), ({ original, mutated }) => {
    traceCase(mutated);
    const outcome = decodeOrRefuse(WIRE_REFUSAL, () => decodeTransportMessage(mutated));
    if (outcome.ok) checkMessage(outcome.value, mutated);
    else check(!sameBytes(original, mutated), 'a valid encoding was refused');
  }),
);

const wireNoise = defineProperty('core/wire/noise', 80_000, 1_000, () =>
  fc.property(noiseArb, fc.boolean(), (noise, withVersion) => {
    // Half the inputs carry the right version byte, so the route decoder sees noise too.
    const bytes = withVersion ? concatBytes([Uint8Array.of(WIRE_VERSION), noise]) : noise;
    traceCase(bytes);
    const outcome = decodeOrRefuse(WIRE_REFUSAL, () => decodeTransportMessage(bytes));
    if (outcome.ok) checkMessage(outcome.value, bytes);
  }),
);

/**
 * A transport message written field by field, with one length field (a route's hop count or an address's
 * byte length) replaced by a huge value: refused before anything is allocated for it.
 */
const wireHostileLengths = defineProperty('core/wire/hostile-lengths', 15_000, 300, () =>
  fc.property(
    transportMessageArb,
    fc.nat(),
    fc.oneof(
      fc.constantFrom(...INTERESTING_INTEGERS.filter((n) => n > MAX_ADDRESS_BYTES)),
      fc.integer({ min: 1 << 20, max: 2 ** 28 - 1 }),
    ),
    (message, pick, huge) => {
      const fields: Uint8Array[] = [Uint8Array.of(WIRE_VERSION)];
      const lengthFields: number[] = [];
      for (const route of [message.onwardRoute, message.returnRoute]) {
        lengthFields.push(fields.length);
        fields.push(leb128(route.length));
        for (const address of route) {
          const value = utf8.encode(address.value);
          fields.push(leb128(address.type));
          lengthFields.push(fields.length);
          fields.push(leb128(value.length));
          fields.push(value);
        }
      }
      fields.push(message.payload);
      fields[lengthFields[pick % lengthFields.length]!] = leb128(huge);
      const bytes = concatBytes(fields);
      traceCase(bytes);
      const measured = measureAllocations(() => decodeTransportMessage(bytes));
      // Varints are at most 4 bytes (2^28 - 1): larger values are MALFORMED; others are over a bound.
      expectRefusal(WIRE_REFUSAL, measured.error ?? new Error(`a length of ${huge} was accepted`));
      check(
        measured.largest <= bytes.length + ALLOCATION_SLACK,
        `asked for ${measured.largest} bytes while decoding ${bytes.length} (declared ${huge})`,
      );
      check(
        measured.arrayBuffersGrowth <= bytes.length + ALLOCATION_SLACK,
        `arrayBuffers grew by ${measured.arrayBuffersGrowth}`,
      );
    },
  ),
);

type ReaderOp =
  | { readonly op: 'u8' }
  | { readonly op: 'varint' }
  | { readonly op: 'take'; readonly length: number }
  | { readonly op: 'route' }
  | { readonly op: 'rest' };

const readerOpArb: fc.Arbitrary<ReaderOp> = fc.oneof(
  fc.constant({ op: 'u8' as const }),
  fc.constant({ op: 'varint' as const }),
  fc.record({
    op: fc.constant('take' as const),
    length: fc.oneof(fc.nat({ max: 40 }), fc.constantFrom(...INTERESTING_INTEGERS)),
  }),
  fc.constant({ op: 'route' as const }),
  fc.constant({ op: 'rest' as const }),
);

/**
 * `Reader` and `readRoute` driven directly: any sequence of reads over any bytes either returns what is there
 * or throws a DecodeError; the cursor only moves forward, never past the end, and a refused read leaves it
 * where it was for `u8` and `take`.
 */
const readerOps = defineProperty('core/wire/reader', 40_000, 1_000, () =>
  fc.property(
    fc.oneof(
      noiseArb,
      validWireArb.map((b) => b.subarray(1)),
    ),
    fc.array(readerOpArb, { minLength: 1, maxLength: 12 }),
    (bytes, ops) => {
      traceCase(bytes);
      const reader = new Reader(bytes);
      for (const op of ops) {
        const before = reader.offset;
        const outcome = decodeOrRefuse(WIRE_REFUSAL, () => {
          switch (op.op) {
            case 'u8':
              return reader.u8();
            case 'varint': {
              const value = reader.varint();
              check(
                value >= 0 && value < 2 ** 28 && reader.offset - before <= 4,
                `varint ${value} over ${reader.offset - before} bytes`,
              );
              return value;
            }
            case 'take': {
              const taken = reader.take(op.length);
              check(taken.length === op.length, 'take returned the wrong length');
              return taken;
            }
            case 'route': {
              const route = readRoute(reader);
              checkRoute(route, 'route');
              return route;
            }
            case 'rest':
              return reader.rest();
          }
        });
        check(
          reader.offset >= before && reader.offset <= bytes.length,
          `cursor moved from ${before} to ${reader.offset}`,
        );
        check(reader.remaining === bytes.length - reader.offset, 'remaining is inconsistent');
        if (!outcome.ok && (op.op === 'u8' || op.op === 'take'))
          check(reader.offset === before, `a refused ${op.op} moved the cursor`);
      }
    },
  ),
);

/** Strings shaped like addresses (`type#value`, digits, separators) and plain noise. */
const addressTextArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc
    .tuple(
      fc.oneof(fc.stringMatching(/^\d{0,7}$/), fc.string({ maxLength: 3 })),
      fc.constantFrom('#', '##', ''),
      fc.string({ unit: 'binary', maxLength: 12 }),
    )
    .map((parts) => parts.join('')),
);

const addressParse = defineProperty('core/address/parse', 80_000, 1_000, () =>
  fc.property(addressTextArb, (text) => {
    const outcome = decodeOrRefuse(ADDRESS_REFUSAL, () => Address.parse(text));
    if (!outcome.ok) return;
    const address = outcome.value;
    check(
      Number.isInteger(address.type) && address.type >= 0 && address.type <= 0xffff,
      `type ${address.type}`,
    );
    check(address.value.length > 0, 'an empty address value');
    check(
      Address.parse(address.key).equals(address),
      `${JSON.stringify(text)} does not re-parse from its key`,
    );
  }),
);

const addressRoundTrip = defineProperty('core/address/round-trip', 40_000, 1_000, () =>
  fc.property(addressArb, (address) => {
    const parsed = Address.parse(address.toString());
    check(
      parsed.type === address.type && parsed.value === address.value,
      `${address.key} parsed as ${parsed.key}`,
    );
  }),
);

/** Strings shaped like printed routes: address-like parts joined by `=>` with stray spaces. */
const routeTextArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc
    .array(fc.tuple(addressTextArb, fc.constantFrom('=>', ' => ', '= >', '=>=>', ' ')), { maxLength: 5 })
    .map((parts) => parts.flat().join('')),
);

const routeParse = defineProperty('core/route/parse', 80_000, 1_000, () =>
  fc.property(routeTextArb, (text) => {
    const outcome = decodeOrRefuse(ADDRESS_REFUSAL, () => Route.parse(text));
    if (!outcome.ok) return;
    const reparsed = Route.parse(outcome.value.toString());
    check(
      reparsed.equals(outcome.value),
      `${JSON.stringify(text)} does not re-parse from ${outcome.value.toString()}`,
    );
  }),
);

/** Printed routes parse back, for values the printed form can carry (no `=>`, no edge whitespace). */
const routeRoundTrip = defineProperty('core/route/round-trip', 40_000, 1_000, () =>
  fc.property(
    fc.array(
      addressArb.filter((a) => !a.value.includes('=>') && a.value.trim() === a.value),
      { maxLength: 6 },
    ),
    (hops) => {
      const route = Route.of(hops);
      const parsed = Route.parse(route.toString());
      check(parsed.equals(route), `${route.toString()} parsed as ${parsed.toString()}`);
    },
  ),
);

const bodyRoundTrip = defineProperty('core/codec/round-trip', 40_000, 1_000, () =>
  fc.property(bodyArb, (value) => {
    const bytes = encodeBody(value);
    traceCase(bytes);
    check(encodedBodySize(value) === bytes.length, 'encodedBodySize disagrees with encodeBody');
    const decoded = decodeBody(bytes);
    check(sameBody(decoded, value), `round trip changed the body: ${hex(bytes)}`);
  }),
);

function checkCanary(): void {
  canaryBytes ??= encodeBody(CANARY);
  check(sameBody(decodeBody(canaryBytes), CANARY), 'a valid body no longer decodes after a refused one');
}

const bodyMutated = defineProperty('core/codec/mutated', 100_000, 2_000, () =>
  fc.property(
    fc.oneof(
      mutatedArb(bodyArb.map((v) => encodeBody(v))).map((m) => m.mutated),
      noiseArb,
      noiseArb.map((n) => concatBytes([Uint8Array.of(2), n])),
    ),
    (bytes) => {
      traceCase(bytes);
      const outcome = decodeOrRefuse(BODY_REFUSAL, () => decodeBody(bytes));
      check(Object.keys(Object.prototype).length === 0, 'Object.prototype was polluted');
      if (!outcome.ok) checkCanary();
    },
  ),
);

/**
 * CBOR items declaring huge lengths (arrays, maps, byte and text strings, nested many times over, behind
 * tags) with few bytes behind them: refused before anything is allocated for the declared size.
 */
const bodyHostileLengths = defineProperty('core/codec/hostile-lengths', 15_000, 300, () => {
  const major = fc.constantFrom(2, 3, 4, 5);
  const head = (majorType: number, length: number): number[] => {
    const m = majorType << 5;
    if (length < 24) return [m | length];
    if (length < 0x100) return [m | 24, length];
    if (length < 0x10000) return [m | 25, length >> 8, length & 0xff];
    if (length < 2 ** 32) return [m | 26, ...[24, 16, 8, 0].map((s) => Math.floor(length / 2 ** s) & 0xff)];
    return [m | 27, ...[56, 48, 40, 32, 24, 16, 8, 0].map((s) => Math.floor(length / 2 ** s) & 0xff)];
  };
  const item = fc.record({
    major,
    length: fc.oneof(
      fc.constantFrom(99_999, 100_000, 16_000_000, 112_000_000, 0xffffffff, 2 ** 40),
      fc.integer({ min: 1 << 16, max: 2 ** 32 - 1 }),
    ),
    tag: fc.option(fc.constantFrom(27, 28, 64, 72, 258, 259, 0x10000), { nil: undefined }),
  });
  return fc.property(
    fc.array(item, { minLength: 1, maxLength: 200 }),
    fc.uint8Array({ maxLength: 16 }),
    (items, tail) => {
      const bytes: number[] = [2]; // the CBOR codec's tag
      for (const it of items) {
        if (it.tag !== undefined)
          bytes.push(
            ...(it.tag < 0x100
              ? [0xd8, it.tag]
              : it.tag < 0x10000
                ? [0xd9, it.tag >> 8, it.tag & 0xff]
                : [0xda, 0, 1, 0, 0]),
          );
        bytes.push(...head(it.major, it.length));
      }
      const input = concatBytes([Uint8Array.from(bytes), tail]);
      traceCase(input);
      const measured = measureAllocations(() => decodeBody(input));
      expectRefusal(BODY_REFUSAL, measured.error ?? new Error('a body declaring more than it holds decoded'));
      check(
        measured.largest <= input.length * 8 + ALLOCATION_SLACK,
        `asked for ${measured.largest} bytes while decoding ${input.length}`,
      );
      check(
        measured.arrayBuffersGrowth <= input.length + ALLOCATION_SLACK,
        `arrayBuffers grew by ${measured.arrayBuffersGrowth}`,
      );
      checkCanary();
    },
  );
});

/** The core decoders' properties: transport messages, routes, addresses, bodies. */
export const coreProperties: readonly FuzzProperty[] = [
  wireRoundTrip,
  wireMutated,
  wireNoise,
  wireHostileLengths,
  readerOps,
  addressParse,
  addressRoundTrip,
  routeParse,
  routeRoundTrip,
  bodyRoundTrip,
  bodyMutated,
  bodyHostileLengths,
];
