import { Address } from '../../src/core/address';
import { encodeBody } from '../../src/core/codec';
import { Route } from '../../src/core/route';
import { MAX_ADDRESS_BYTES, MAX_ROUTE_LENGTH, encodeTransportMessage } from '../../src/core/wire';
import { LastRoute } from '../../src/core/route-cache';
import { Envelope, decodeEnvelope } from '../../src/channel/envelope';

const TRACE = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const short = Route.of([Address.local('echoer')]);
const back = Route.of([Address.local('app'), Address.local('ünïcode')]);
/** A route longer than a chunk's piece (64 hops of 1 KiB): its head is cut by piece boundaries. */
const long = Route.of(
  Array.from({ length: MAX_ROUTE_LENGTH }, (_, i) => Address.local(`${i}`.padEnd(MAX_ADDRESS_BYTES, 'x'))),
);

/** What the envelope must write: the transport message layout of the same message. */
function expected(onward: Route, returnRoute: Route, body: unknown, trace?: string): Uint8Array {
  return encodeTransportMessage({ onwardRoute: onward, returnRoute, payload: encodeBody(body), trace });
}

describe('Envelope', () => {
  it.each([
    ['bytes, short routes', short, back, new Uint8Array(64).fill(7), undefined],
    ['text, with a trace context', short, back, 'héllo', TRACE],
    ['cbor', back, short, { a: 1 }, undefined],
    ['bytes, routes longer than a piece', long, long, new Uint8Array(100).fill(3), TRACE],
  ] as const)(
    'writes the transport message layout, whole or in pieces (%s)',
    (_, onward, ret, body, trace) => {
      const envelope = Envelope.of(onward, ret, body, Number.MAX_SAFE_INTEGER, trace);
      const want = expected(onward, ret, body, trace);
      expect(envelope.length).toBe(want.length);
      const whole = new Uint8Array(want.length);
      envelope.write(0, want.length, whole, 0);
      expect(whole).toEqual(want);
      // In pieces cut anywhere, the head included (a text body goes in pieces only as bytes: `inPieces`).
      const pieces = envelope.inPieces();
      for (const piece of [7, 1000, 65_519]) {
        const out = new Uint8Array(want.length + 3);
        for (let from = 0; from < want.length; from += piece) {
          pieces.write(from, Math.min(piece, want.length - from), out, from + 3);
        }
        expect(out.subarray(3)).toEqual(want);
      }
      const opened = decodeEnvelope(want);
      expect(opened.onwardRoute.equals(onward)).toBe(true);
      expect(opened.returnRoute.equals(ret)).toBe(true);
    },
  );

  it('refuses routes no peer would accept, as TOO_LARGE', () => {
    const tooLong = Route.of(Array.from({ length: MAX_ROUTE_LENGTH + 1 }, () => Address.local('a')));
    expect(() => Envelope.of(tooLong, back, 'x', 1 << 20)).toThrow(
      expect.objectContaining({ code: 'TOO_LARGE' }),
    );
    expect(() => Envelope.of(short, back, 'x', 10)).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
  });

  it('reuses the last routes decoded only when their bytes are the same', () => {
    const last = { onward: new LastRoute(), back: new LastRoute() };
    const first = decodeEnvelope(expected(short, back, 'a'), last);
    const again = decodeEnvelope(expected(short, back, 'b'), last);
    expect(again.onwardRoute).toBe(first.onwardRoute);
    expect(again.returnRoute).toBe(first.returnRoute);
    expect(again.body).toBe('b');
    // One byte of an address differs (the same length): a route of its own, decoded.
    const other = Route.of([Address.local('app'), Address.local('ünïcodf')]);
    const next = decodeEnvelope(expected(short, other, 'c'), last);
    expect(next.onwardRoute).toBe(first.onwardRoute);
    expect(next.returnRoute).not.toBe(first.returnRoute);
    expect(next.returnRoute.equals(other)).toBe(true);
    // Bytes that do not decode are refused as before, whatever was kept.
    const bad = expected(short, other, 'c');
    bad[bad.indexOf(0xc3)] = 0xff; // invalid UTF-8 in the kept route's place
    expect(() => decodeEnvelope(bad, last)).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
  });
});
