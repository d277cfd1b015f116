/**
 * The part of the NATS client's protocol handler (`@nats-io/nats-core` 3.4, `ProtocolHandler`, reached as
 * `connection.protocol`) that `publishRaw` writes through. Internal to the client: package.json pins the
 * client to its minor version, and test/federation/nats-bus.test.ts fails if this shape changes.
 */
export interface RawProtocol {
  /** Appends protocol bytes to the outbound buffer (written later in the turn, or at once past 32 KiB). */
  sendCommand(command: Uint8Array): void;
  /** Writes the outbound buffer to the socket now (not while disconnected: it waits for the reconnect). */
  flushPending(): void;
  /** The outbound buffer; `length()` counts the buffers in it, not bytes. */
  readonly outbound: { length(): number };
  /** Set once the connection drains (the caller checks it, and `isClosed()`, before `publishRaw`). */
  readonly noMorePublishing: boolean;
  /** The connection's statistics, kept up to date as the client's own `publish` does. */
  outBytes: number;
  outMsgs: number;
}

/** The protocol handler of a connection of `@nats-io/transport-node`, if it still has the shape above. */
export function rawProtocolOf(connection: object): RawProtocol | undefined {
  const protocol = (connection as { protocol?: Partial<Record<keyof RawProtocol, unknown>> }).protocol;
  if (typeof protocol !== 'object' || protocol === null) return undefined;
  const outbound = protocol.outbound as { length?: unknown } | undefined;
  const shaped =
    typeof protocol.sendCommand === 'function' &&
    typeof protocol.flushPending === 'function' &&
    typeof outbound?.length === 'function' &&
    typeof protocol.noMorePublishing === 'boolean' &&
    typeof protocol.outBytes === 'number' &&
    typeof protocol.outMsgs === 'number';
  return shaped ? (protocol as unknown as RawProtocol) : undefined;
}

/** A subject the raw path writes as it is: printable ASCII without spaces (what subjects of hubs are). */
const PLAIN_SUBJECT = /^[!-~]+$/;

/**
 * A body at least this large is written alone: the client would copy a buffer it holds together with
 * anything queued before it (its outbound buffer packs several into one before a socket write), so what
 * is queued goes first and the large message follows as the only buffer, written without another copy.
 */
const WRITE_ALONE_BYTES = 16 * 1024;

/** CR LF, the end of a message's payload. */
const CR = 13;
const LF = 10;

/**
 * Publishes `head` followed by `body` as one message on `subject`, as `PUB <subject> <size>\r\n` + head +
 * body + `\r\n` in one buffer: the body is copied once, into that buffer. Through the client's own
 * `publish` it was copied twice: into one payload with the head, then with the line before it when the
 * client packs its outbound buffer. Returns false, having published nothing, for what it leaves to the
 * client's `publish` (which throws the client's own errors): a subject that is not plain ASCII, a payload
 * over `maxPayload`. The connection must be open and not draining.
 */
export function publishRaw(
  protocol: RawProtocol,
  subject: string,
  head: Uint8Array,
  body: Uint8Array | undefined,
  maxPayload: number,
): boolean {
  const size = head.length + (body?.length ?? 0);
  if (size > maxPayload || !PLAIN_SUBJECT.test(subject)) return false;
  const line = `PUB ${subject} ${size}\r\n`;
  // allocUnsafe: every byte is written below; small messages come from Node's pool.
  const out = Buffer.allocUnsafe(line.length + size + 2);
  let offset = out.write(line, 0, 'latin1');
  out.set(head, offset);
  offset += head.length;
  if (body !== undefined) {
    out.set(body, offset);
    offset += body.length;
  }
  out[offset] = CR;
  out[offset + 1] = LF;
  if (size >= WRITE_ALONE_BYTES && protocol.outbound.length() > 0) protocol.flushPending();
  protocol.outBytes += size;
  protocol.outMsgs++;
  protocol.sendCommand(out);
  return true;
}
