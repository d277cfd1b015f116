import fc from 'fast-check';
import {
  Address,
  DEFAULT_MAX_MESSAGE_SIZE,
  DecodeError,
  MessageTooLargeError,
  Route,
  TCP,
  decodeBody,
  decodeTransportMessage,
  encodeBody,
  encodeTransportMessage,
  route,
  type TransportMessage,
} from '../../src/internal';
import { MAX_ADDRESS_BYTES, MAX_ROUTE_LENGTH, WIRE_VERSION } from '../../src/core/wire';

function decodeError(bytes: Uint8Array | number[], maxSize?: number): DecodeError {
  try {
    decodeTransportMessage(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), maxSize);
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    return err as DecodeError;
  }
  throw new Error('expected the bytes not to decode');
}

function expectSameMessage(actual: TransportMessage, expected: TransportMessage): void {
  expect(actual.onwardRoute.toString()).toBe(expected.onwardRoute.toString());
  expect(actual.onwardRoute.equals(expected.onwardRoute)).toBe(true);
  expect(actual.returnRoute.equals(expected.returnRoute)).toBe(true);
  expect(Buffer.from(actual.payload).equals(Buffer.from(expected.payload))).toBe(true);
}

const sample: TransportMessage = {
  onwardRoute: route([TCP, '127.0.0.1:4000'], 'relay', 'echoer'),
  returnRoute: route('app', [TCP, '[::1]:5000']),
  payload: encodeBody({ greeting: 'hello', n: 1 }),
};

describe('transport message encoding', () => {
  it('round-trips routes and payload', () => {
    const bytes = encodeTransportMessage(sample);
    expect(bytes[0]).toBe(WIRE_VERSION);
    const decoded = decodeTransportMessage(bytes);
    expectSameMessage(decoded, sample);
    expect(decodeBody(decoded.payload)).toEqual({ greeting: 'hello', n: 1 });
  });

  it('round-trips empty routes and an empty payload', () => {
    const empty = { onwardRoute: Route.EMPTY, returnRoute: Route.EMPTY, payload: new Uint8Array(0) };
    const bytes = encodeTransportMessage(empty);
    expect(Array.from(bytes)).toEqual([WIRE_VERSION, 0, 0]);
    expectSameMessage(decodeTransportMessage(bytes), empty);
  });

  it('decodes the payload as a view of the input, without copying', () => {
    const bytes = encodeTransportMessage(sample);
    expect(decodeTransportMessage(bytes).payload.buffer).toBe(bytes.buffer);
  });

  it('round-trips routes of the maximum length and addresses of the maximum size', () => {
    const long = Route.of(Array.from({ length: MAX_ROUTE_LENGTH }, (_, i) => Address.local(`hop${i}`)));
    const big = route('é'.repeat(MAX_ADDRESS_BYTES / 2));
    const message = { onwardRoute: long, returnRoute: big, payload: new Uint8Array([1]) };
    expectSameMessage(decodeTransportMessage(encodeTransportMessage(message)), message);
  });

  it('throws MessageTooLargeError when the encoding would exceed the maximum', () => {
    const message = { ...sample, payload: new Uint8Array(1000) };
    const size = encodeTransportMessage(message).length;
    expect(encodeTransportMessage(message, size)).toHaveLength(size);
    let error: unknown;
    try {
      encodeTransportMessage(message, size - 1);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect(error).toMatchObject({ code: 'MESSAGE_TOO_LARGE', size, limit: size - 1 });
  });

  it('refuses to encode what the decoder would refuse', () => {
    const tooManyHops = Route.of(Array.from({ length: MAX_ROUTE_LENGTH + 1 }, () => Address.local('h')));
    expect(() => encodeTransportMessage({ ...sample, onwardRoute: tooManyHops })).toThrow(
      expect.objectContaining({ name: 'EncodeError', code: 'ROUTE_TOO_LONG' }),
    );
    const tooLongAddress = route('x'.repeat(MAX_ADDRESS_BYTES + 1));
    expect(() => encodeTransportMessage({ ...sample, returnRoute: tooLongAddress })).toThrow(
      expect.objectContaining({ name: 'EncodeError', code: 'ADDRESS_TOO_LONG' }),
    );
  });
});

describe('decodeTransportMessage', () => {
  it('throws TRUNCATED for every cut inside the routes', () => {
    const bytes = encodeTransportMessage(sample);
    const payloadStart = bytes.length - sample.payload.length;
    for (let cut = 0; cut < payloadStart; cut++) {
      expect(decodeError(bytes.subarray(0, cut)).code).toBe('TRUNCATED');
    }
  });

  it.each([[0], [3], [255]])('throws UNSUPPORTED_VERSION for version %i', (version) => {
    const bytes = encodeTransportMessage(sample);
    bytes[0] = version;
    expect(decodeError(bytes).code).toBe('UNSUPPORTED_VERSION');
  });

  it('throws TOO_LARGE for input over the maximum, before reading it', () => {
    const bytes = encodeTransportMessage(sample);
    expect(decodeError(bytes, bytes.length - 1).code).toBe('TOO_LARGE');
    expect(decodeError(new Uint8Array(DEFAULT_MAX_MESSAGE_SIZE + 1)).code).toBe('TOO_LARGE');
  });

  it.each([
    ['a varint longer than 4 bytes', [1, 0x80, 0x80, 0x80, 0x80, 0x01], 'MALFORMED'],
    ['a route of more than the maximum hops', [1, MAX_ROUTE_LENGTH + 1], 'TOO_LARGE'],
    ['an address type above 65535', [1, 1, 0x80, 0x80, 0x04, 1, 0x61, 0], 'MALFORMED'],
    ['an empty address', [1, 1, 0, 0, 0], 'MALFORMED'],
    ['an address over the maximum size', [1, 1, 0, 0x81, 0x08, 0x61], 'MALFORMED'],
    ['an address that is not UTF-8', [1, 1, 0, 2, 0xc3, 0x28, 0], 'MALFORMED'],
    ['an address length past the end', [1, 1, 0, 5, 0x61], 'TRUNCATED'],
  ])('throws for %s', (_kind, bytes, code) => {
    expect(decodeError(bytes).code).toBe(code);
  });

  it('decodes a route met before to the same route, and a route one byte apart as it would alone', () => {
    const bytes = encodeTransportMessage(sample);
    const first = decodeTransportMessage(bytes);
    const again = decodeTransportMessage(Uint8Array.from(bytes));
    expectSameMessage(again, sample);
    expect(again.onwardRoute).toBe(first.onwardRoute); // the decoded route was kept, not decoded again
    // 'echoer' -> 'echoes': a different route, decoded as such.
    const other = Uint8Array.from(bytes);
    const at = Buffer.from(other).indexOf('echoer') + 5;
    other[at] = 's'.charCodeAt(0);
    expect(decodeTransportMessage(other).onwardRoute.toString()).toBe(
      route([TCP, '127.0.0.1:4000'], 'relay', 'echoes').toString(),
    );
    // The same bytes but one that is not UTF-8: refused, whatever was decoded before.
    other[at] = 0xff;
    expect(decodeError(other).code).toBe('MALFORMED');
    other[at] = 'r'.charCodeAt(0);
    expect(decodeTransportMessage(other).onwardRoute).toBe(first.onwardRoute);
  });
});

describe('wire properties', () => {
  const addressArb = fc
    .record({
      type: fc.integer({ min: 0, max: 0xffff }),
      value: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
    })
    .map(({ type, value }) => new Address(type, value));
  const routeArb = fc.array(addressArb, { maxLength: 8 }).map((hops) => Route.of(hops));
  const messageArb = fc.record({
    onwardRoute: routeArb,
    returnRoute: routeArb,
    payload: fc.uint8Array({ maxLength: 512 }),
  });

  it('decodes random bytes or throws DecodeError, never anything else', () => {
    // Half the inputs start with the right version byte so that decoding gets past the first check.
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }).map((rest) => Uint8Array.of(WIRE_VERSION, ...rest)),
    );
    fc.assert(
      fc.property(input, (bytes) => {
        try {
          const decoded = decodeTransportMessage(bytes);
          // Whatever decodes must encode again and decode to the same message.
          expectSameMessage(decodeTransportMessage(encodeTransportMessage(decoded)), decoded);
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips random messages', () => {
    fc.assert(
      fc.property(messageArb, (message) => {
        expectSameMessage(decodeTransportMessage(encodeTransportMessage(message)), message);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips random addresses through print and parse', () => {
    fc.assert(
      fc.property(addressArb, (address) => {
        expect(Address.parse(address.toString()).equals(address)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
