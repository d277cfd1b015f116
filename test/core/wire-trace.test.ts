import {
  DecodeError,
  TCP,
  decodeBody,
  decodeTransportMessage,
  encodeBody,
  encodeTransportMessage,
  route,
} from '../../src/internal';
import { encodeFrame, WIRE_VERSION, WIRE_VERSION_TRACED } from '../../src/core/wire';

const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const onwardRoute = route([TCP, '127.0.0.1:4000'], 'fwd.n.bob', 'echoer');
const returnRoute = route('app');

describe('transport messages with a trace context (wire version 2)', () => {
  it('writes version 1 without one, version 2 with one, and reads the trace back', () => {
    const plain = encodeTransportMessage({ onwardRoute, returnRoute, payload: encodeBody('hi') });
    expect(plain[0]).toBe(WIRE_VERSION);
    expect(decodeTransportMessage(plain).trace).toBeUndefined();

    const traced = encodeTransportMessage({
      onwardRoute,
      returnRoute,
      payload: encodeBody('hi'),
      trace: TRACE,
    });
    expect(traced[0]).toBe(WIRE_VERSION_TRACED);
    // Exactly a length byte and the 55 ASCII characters more than version 1.
    expect(traced.length).toBe(plain.length + 1 + TRACE.length);
    const decoded = decodeTransportMessage(traced);
    expect(decoded.trace).toBe(TRACE);
    expect(decoded.onwardRoute.equals(onwardRoute)).toBe(true);
    expect(decodeBody(decoded.payload)).toBe('hi');
  });

  it('lays out encodeFrame as encodeTransportMessage does', () => {
    const frame = encodeFrame(onwardRoute, returnRoute, { n: 1 }, undefined, 4, TRACE);
    const message = encodeTransportMessage({
      onwardRoute,
      returnRoute,
      payload: encodeBody({ n: 1 }),
      trace: TRACE,
    });
    expect(Buffer.from(frame.subarray(4)).equals(Buffer.from(message))).toBe(true);
  });

  it.each([
    ['an unknown version', '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`],
    ['an all-zero span id', `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`],
    ['upper-case hex', TRACE.toUpperCase()],
    ['something else', 'hello'],
  ])('writes no trace context for %s (it goes as version 1), and refuses to read one', (_what, bad) => {
    const encoded = encodeTransportMessage({
      onwardRoute,
      returnRoute,
      payload: encodeBody('x'),
      trace: bad,
    });
    expect(encoded[0]).toBe(WIRE_VERSION);
    // The same bytes with the bad context put in by hand do not decode.
    const good = encodeTransportMessage({ onwardRoute, returnRoute, payload: encodeBody('x'), trace: TRACE });
    const at = good.indexOf(TRACE.length, good.length - 2 - TRACE.length - 1);
    const forged = Buffer.concat([
      good.subarray(0, at),
      Buffer.from([bad.length]),
      Buffer.from(bad, 'latin1'),
      good.subarray(at + 1 + TRACE.length),
    ]);
    expect(() => decodeTransportMessage(forged)).toThrow(DecodeError);
  });

  it('refuses a version 2 message cut inside its trace context', () => {
    const traced = encodeTransportMessage({
      onwardRoute,
      returnRoute,
      payload: new Uint8Array(0),
      trace: TRACE,
    });
    expect(() => decodeTransportMessage(traced.subarray(0, traced.length - 10))).toThrow(DecodeError);
  });
});
