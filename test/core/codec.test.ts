import { DecodeError, codecs, decodeBody, encodeBody } from '../../src';

function decodeError(bytes: number[]): DecodeError {
  try {
    decodeBody(new Uint8Array(bytes));
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    return err as DecodeError;
  }
  throw new Error(`expected ${JSON.stringify(bytes)} not to decode`);
}

describe('body codecs', () => {
  it.each([
    ['a string', 'hello, sealroute ✓'],
    ['an empty string', ''],
    ['bytes', new Uint8Array([0, 1, 2, 255])],
    ['empty bytes', new Uint8Array(0)],
    ['a CBOR object', { text: 'hi', n: 42, neg: -1.5, list: [1, 'two', null], nested: { ok: true } }],
    ['a CBOR array', [1, 2, 3]],
    ['a number', 7],
  ])('round-trips %s', (_kind, value) => {
    expect(decodeBody(encodeBody(value))).toEqual(value);
  });

  it('tags strings, bytes and CBOR as documented', () => {
    expect(encodeBody('x')[0]).toBe(codecs.string.tag);
    expect(encodeBody(new Uint8Array([1]))[0]).toBe(codecs.bytes.tag);
    expect(encodeBody({ a: 1 })[0]).toBe(codecs.cbor.tag);
    expect([codecs.string.tag, codecs.bytes.tag, codecs.cbor.tag]).toEqual([0, 1, 2]);
  });

  it('keeps decoded bytes as a Uint8Array', () => {
    const decoded = decodeBody(encodeBody(new Uint8Array([9, 8])));
    expect(decoded).toBeInstanceOf(Uint8Array);
    expect(Array.from(decoded as Uint8Array)).toEqual([9, 8]);
  });

  it.each([
    ['an empty buffer', [], 'TRUNCATED'],
    ['an unknown tag', [9, 1, 2], 'MALFORMED'],
    ['invalid UTF-8 in a string body', [0, 0xc3, 0x28], 'MALFORMED'],
    ['a truncated CBOR array', [2, 0x82, 0x01], 'MALFORMED'],
    ['an empty CBOR body', [2], 'MALFORMED'],
    ['a CBOR reserved byte', [2, 0x1c], 'MALFORMED'],
  ])('refuses %s with DecodeError %s', (_kind, bytes, code) => {
    const err = decodeError(bytes);
    expect(err.code).toBe(code);
    expect(err.origin).toBe('core');
  });

  it('accepts only its own kind of body', () => {
    expect(codecs.string.accepts('x')).toBe(true);
    expect(codecs.string.accepts(1)).toBe(false);
    expect(codecs.bytes.accepts(new Uint8Array(1))).toBe(true);
    expect(codecs.bytes.accepts('x')).toBe(false);
    expect(codecs.cbor.accepts(undefined)).toBe(true);
  });

  describe('structured', () => {
    interface Ping {
      ping: number;
    }
    const isPing = (value: unknown): value is Ping =>
      typeof value === 'object' && value !== null && typeof (value as Ping).ping === 'number';
    const ping = codecs.structured('ping', isPing);

    it('round-trips a valid value and refuses another shape with MALFORMED', () => {
      expect(ping.decode(ping.encode({ ping: 3 }))).toEqual({ ping: 3 });
      expect(ping.accepts({ ping: 'x' })).toBe(false);
      const other = codecs.cbor.encode({ pong: 1 });
      expect(() => ping.decode(other)).toThrow(
        expect.objectContaining({ name: 'DecodeError', code: 'MALFORMED' }),
      );
    });
  });
});
