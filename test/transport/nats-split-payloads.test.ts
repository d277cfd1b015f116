import { createServer, type AddressInfo, type Socket } from 'node:net';
import { connectNats } from '../../src/federation/nats-bus';
import { waitFor } from '../helpers/async';
import { scaled } from '../helpers/slowdown';
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

/**
 * A hostile NATS server, as little of one as the client needs: INFO, PONG to every PING, and once the client
 * subscribed, what `send` writes (announced messages it never completes).
 */
async function hostileServer(send: (socket: Socket) => void): Promise<{ url: string; close(): void }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.write(
      `INFO {"server_id":"x","version":"2.9.0","proto":1,"max_payload":1048576,"headers":true}\r\n`,
    );
    let text = '';
    let subscribed = false;
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      for (let at = text.indexOf('\r\n'); at >= 0; at = text.indexOf('\r\n')) {
        const line = text.slice(0, at);
        text = text.slice(at + 2);
        if (line === 'PING') socket.write('PONG\r\n');
        if (line.startsWith('SUB ') && !subscribed) {
          subscribed = true;
          send(socket);
        }
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `nats://127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe('a split payload from a hostile server, through the real client', () => {
  type Nc = { protocol: { parser: SplitPayloadParser }; close(): Promise<void> };

  /** A bus on `server`, subscribed, once the client's parser has begun the announced message. */
  async function begun(server: { url: string }): Promise<{ parser: SplitPayloadParser; nc: Nc }> {
    const bus = await connectNats({ servers: [server.url], client: { reconnect: false } });
    const { nc } = bus as unknown as { nc: Nc };
    bus.subscribe('subject', () => undefined);
    // Not flushed: the server's PONG would be read as the message's payload, which never ends.
    await waitFor(() => nc.protocol.parser.msgBuf !== undefined, scaled(5_000));
    return { parser: nc.protocol.parser, nc };
  }

  it('gets no buffer for the bytes a server announces and never sends, past the bound', async () => {
    // 60 MB: under the client's own limit (64 MB), far over EXACT_PAYLOAD_MAX_BYTES.
    const server = await hostileServer((socket) =>
      socket.write(`MSG subject 1 60000000\r\n${'x'.repeat(100)}`),
    );
    const before = process.memoryUsage().arrayBuffers;
    const { parser, nc } = await begun(server);
    try {
      // The client's own buffer holds what came; nothing near the announced size was allocated.
      expect(parser.msgBuf).not.toBeInstanceOf(ExactPayload);
      expect(parser.msgBuf!.length).toBe(100);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
    } finally {
      server.close();
      await nc.close().catch(() => undefined);
    }
  });

  it('within the bound, gets one buffer of the announced size, which fills as bytes come', async () => {
    const server = await hostileServer((socket) =>
      socket.write(`MSG subject 1 1048576\r\n${'x'.repeat(100)}`),
    );
    const { parser, nc } = await begun(server);
    try {
      expect(parser.msgBuf).toBeInstanceOf(ExactPayload);
      expect(parser.msgBuf!.length).toBe(100);
      expect(parser.msgBuf!.bytes().buffer.byteLength).toBe(EXACT_PAYLOAD_MAX_BYTES);
    } finally {
      server.close();
      await nc.close().catch(() => undefined);
    }
  });
});
