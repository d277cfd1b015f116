import {
  EXACT_PAYLOAD_MAX_BYTES,
  ExactPayload,
  exactParser,
  exactSplitPayloads,
  type SplitPayload,
  type SplitPayloadParser,
} from '../../src/transport/nats/split-payloads';

/** The client's growing buffer, as far as the parser uses it. */
class GrowingPayload implements SplitPayload {
  private data: Buffer;
  constructor(first: Uint8Array) {
    this.data = Buffer.from(first);
  }
  get length(): number {
    return this.data.length;
  }
  write(bytes: Uint8Array): number {
    this.data = Buffer.concat([this.data, bytes]);
    return bytes.length;
  }
  writeByte(byte: number): number {
    return this.write(Uint8Array.of(byte));
  }
  bytes(): Uint8Array {
    return this.data;
  }
}

/**
 * A parser that reads one message of `size` bytes, as the client's does: a chunk that holds it all is
 * delivered as a view; otherwise what came goes to `msgBuf` (the client's buffer when it begins, `write`
 * after that), and the whole is delivered once complete.
 */
function fakeParser(size: number, delivered: Uint8Array[]): SplitPayloadParser {
  const parser: SplitPayloadParser = {
    msgBuf: undefined,
    ma: { size },
    parse(chunk: Uint8Array): void {
      if (parser.msgBuf === undefined && chunk.length >= size) {
        delivered.push(chunk.subarray(0, size));
        return;
      }
      if (parser.msgBuf === undefined) parser.msgBuf = new GrowingPayload(chunk);
      else parser.msgBuf.write(chunk.subarray(0, size - parser.msgBuf.length));
      if (parser.msgBuf.length >= size) {
        delivered.push(parser.msgBuf.bytes({ copy: false }));
        parser.msgBuf = undefined;
      }
    },
  };
  return parser;
}

describe('exactParser', () => {
  it('moves a split payload into one buffer of its size, which the parser fills and hands over', () => {
    const message = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const delivered: Uint8Array[] = [];
    const parser = fakeParser(message.length, delivered);
    exactParser(parser, EXACT_PAYLOAD_MAX_BYTES);
    parser.parse(message.subarray(0, 300));
    expect(parser.msgBuf).toBeInstanceOf(ExactPayload);
    expect(parser.msgBuf!.length).toBe(300);
    parser.parse(message.subarray(300, 700));
    parser.parse(message.subarray(700));
    expect(delivered).toHaveLength(1);
    expect(Buffer.from(delivered[0]!).equals(message)).toBe(true);
    expect(delivered[0]!.buffer.byteLength).toBe(message.length);
  });

  it('leaves to the client a message larger than its bound: no buffer for bytes never sent', () => {
    const delivered: Uint8Array[] = [];
    // What a hostile server might announce before sending a few bytes.
    const parser = fakeParser(1_000_000_000, delivered);
    exactParser(parser, EXACT_PAYLOAD_MAX_BYTES);
    parser.parse(new Uint8Array(10));
    expect(parser.msgBuf).toBeInstanceOf(GrowingPayload);
    expect(parser.msgBuf!.length).toBe(10);
  });

  it('leaves alone a chunk that completes its message, and a parser between messages', () => {
    const delivered: Uint8Array[] = [];
    const parser = fakeParser(4, delivered);
    exactParser(parser, EXACT_PAYLOAD_MAX_BYTES);
    const whole = Uint8Array.of(1, 2, 3, 4);
    parser.parse(whole);
    expect(parser.msgBuf).toBeUndefined();
    expect(delivered[0]!.buffer).toBe(whole.buffer);
  });
});

describe('ExactPayload', () => {
  it('never writes past its size', () => {
    const payload = new ExactPayload(4, Uint8Array.of(1, 2));
    expect(payload.write(Uint8Array.of(3, 4, 5))).toBe(2);
    expect(payload.writeByte(6)).toBe(0);
    expect([...payload.bytes()]).toEqual([1, 2, 3, 4]);
  });
});

describe('exactSplitPayloads', () => {
  it('changes nothing on a connection whose client does not have the expected shape', () => {
    const protocol = { parser: { parse: () => undefined } };
    expect(exactSplitPayloads({ protocol })).toBe(false);
    expect(exactSplitPayloads({})).toBe(false);
  });

  it('treats every parser the client makes for the connection later (one per reconnect)', () => {
    const delivered: Uint8Array[] = [];
    const protocol = { parser: fakeParser(100, delivered) };
    expect(exactSplitPayloads({ protocol })).toBe(true);
    protocol.parser = fakeParser(100, delivered);
    protocol.parser.parse(new Uint8Array(50));
    expect(protocol.parser.msgBuf).toBeInstanceOf(ExactPayload);
  });
});
