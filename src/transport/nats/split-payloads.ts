/**
 * How the NATS client's parser (`@nats-io/nats-core` 3.4, `Parser`, reached as `connection.protocol.parser`)
 * holds a message whose payload did not arrive in one socket read. It copies the part it has into a buffer
 * of that part's size, then grows it by doubling as the rest comes: a 64 KiB federated frame cost two
 * allocations (the second zero-filled and about twice the message), three copies of most of its bytes, and
 * pinned twice its size while it travelled on. `exactSplitPayloads` gives such a message, once the parser
 * has begun it, one buffer of exactly its size, so that the rest is copied once, straight into place.
 * Internal to the client: package.json pins it to its minor version, and test/federation/nats-bus.test.ts
 * fails if this shape changes.
 */
export interface SplitPayloadParser {
  parse(chunk: Uint8Array): void;
  /** The payload begun in an earlier read; set only between reads of one message, and cleared when done. */
  msgBuf?: SplitPayload;
  /** The message being read: `size` counts its headers and payload. */
  ma?: { readonly size: number };
}

/** What the parser uses of the buffer of a split payload. */
export interface SplitPayload {
  readonly length: number;
  write(bytes: Uint8Array): number;
  writeByte(byte: number): number;
  bytes(options?: { copy?: boolean }): Uint8Array;
}

/**
 * Messages up to this size get their buffer at their first bytes; a larger one is left to the client's
 * buffer, which grows only as bytes come: a server (or whoever sits on the connection) that announces a
 * large message and sends little of it gets no more memory out of this than it sends.
 */
export const EXACT_PAYLOAD_MAX_BYTES = 1024 * 1024;

/** The payload of one split message, in one buffer of its size (filled by the parser, in order). */
export class ExactPayload implements SplitPayload {
  private readonly buffer: Buffer;
  private filled = 0;

  constructor(size: number, first: Uint8Array) {
    // allocUnsafeSlow: every byte handed out is written first, and the message owns its whole buffer.
    this.buffer = Buffer.allocUnsafeSlow(size);
    this.write(first);
  }

  get length(): number {
    return this.filled;
  }

  write(bytes: Uint8Array): number {
    const count = Math.min(bytes.length, this.buffer.length - this.filled);
    this.buffer.set(count === bytes.length ? bytes : bytes.subarray(0, count), this.filled);
    this.filled += count;
    return count;
  }

  writeByte(byte: number): number {
    return this.write(Uint8Array.of(byte));
  }

  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.filled);
  }
}

/** Whether `parser` still has the shape above. */
export function isSplitPayloadParser(parser: unknown): parser is SplitPayloadParser {
  const shaped = parser as Partial<Record<keyof SplitPayloadParser, unknown>> | null;
  return (
    typeof shaped === 'object' &&
    shaped !== null &&
    typeof shaped.parse === 'function' &&
    'msgBuf' in shaped &&
    'ma' in shaped
  );
}

/**
 * Makes the parser of a connection of `@nats-io/transport-node`, and every parser the client makes for it
 * later (one per reconnect), move each split payload of at most `maxBytes` into an `ExactPayload`. Returns
 * false, changing nothing, if the client no longer has the shape this relies on.
 */
export function exactSplitPayloads(connection: object, maxBytes = EXACT_PAYLOAD_MAX_BYTES): boolean {
  const protocol = (connection as { protocol?: { parser?: unknown } }).protocol;
  if (typeof protocol !== 'object' || protocol === null || !isSplitPayloadParser(protocol.parser))
    return false;
  let current: unknown = protocol.parser;
  exactParser(current as SplitPayloadParser, maxBytes);
  Object.defineProperty(protocol, 'parser', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (parser: unknown) => {
      if (isSplitPayloadParser(parser)) exactParser(parser, maxBytes);
      current = parser;
    },
  });
  return true;
}

/**
 * Makes `parser` move a split payload of at most `maxBytes` into an `ExactPayload` as soon as it has begun
 * it (it then fills it through `write` and hands out `bytes()`, a view of all of it).
 */
export function exactParser(parser: SplitPayloadParser, maxBytes: number): void {
  const parse = parser.parse.bind(parser);
  parser.parse = (chunk: Uint8Array): void => {
    parse(chunk);
    const begun = parser.msgBuf;
    const size = parser.ma?.size;
    if (begun === undefined || begun instanceof ExactPayload || size === undefined) return;
    if (size <= maxBytes && begun.length < size)
      parser.msgBuf = new ExactPayload(size, begun.bytes({ copy: false }));
  };
}
