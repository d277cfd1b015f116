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
  /** Whether the connection is up: `flushPending` writes nothing otherwise. */
  readonly connected: boolean;
  readonly infoReceived: boolean;
  /** The connection's transport (a new one after each reconnect) and its socket, where `flushPending` writes. */
  readonly transport: { readonly isClosed: boolean; readonly socket?: RawSocket };
}

/** What `publishRaw` writes a large message through: node:net's (or node:tls's) socket. */
export interface RawSocket {
  cork(): void;
  uncork(): void;
  write(chunk: Uint8Array): boolean;
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
    typeof protocol.outMsgs === 'number' &&
    typeof protocol.connected === 'boolean' &&
    typeof protocol.infoReceived === 'boolean' &&
    typeof protocol.transport === 'object' &&
    protocol.transport !== null &&
    'socket' in protocol.transport &&
    typeof (protocol.transport as { isClosed?: unknown }).isClosed === 'boolean';
  return shaped ? (protocol as unknown as RawProtocol) : undefined;
}

/** A subject the raw path writes as it is: printable ASCII without spaces (what subjects of hubs are). */
const PLAIN_SUBJECT = /^[!-~]+$/;

/**
 * A body at least this large is not copied: it is written to the socket between the message's first line
 * and its CR LF, in one writev, once everything the client queued before it is written.
 */
const GATHER_BYTES = 16 * 1024;

/** CR LF, the end of a message's payload (never written to: the socket holds it until written). */
const CRLF = new Uint8Array([13, 10]);

/**
 * Publishes `head` followed by `body` as one message on `subject`: `PUB <subject> <size>\r\n`, head, body,
 * `\r\n`. A large body is written where it lies, behind a small buffer of the line and the head (through
 * the client's own `publish` it was copied twice: into one payload with the head, then with the line when
 * the client packs its outbound buffer); anything smaller, or anything while the connection is down, is
 * copied once into one buffer that the client queues. Returns false, having published nothing, for what it
 * leaves to the client's `publish` (which throws the client's own errors): a subject that is not plain
 * ASCII, a payload over `maxPayload`. The connection must be open and not draining.
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
  protocol.outBytes += size;
  protocol.outMsgs++;
  if (body !== undefined && body.length >= GATHER_BYTES) {
    // What is queued goes first (the client writes it through the same socket), then this message.
    if (protocol.outbound.length() > 0) protocol.flushPending();
    const socket = idleSocket(protocol);
    if (socket !== undefined) {
      socket.cork();
      socket.write(lineAndHead(line, head, 0));
      socket.write(body);
      socket.write(CRLF);
      socket.uncork();
      return true;
    }
  }
  // Every byte is written below; small messages come from node's pool.
  const out = lineAndHead(line, head, size - head.length + CRLF.length);
  if (body !== undefined) out.set(body, line.length + head.length);
  out.set(CRLF, out.length - CRLF.length);
  protocol.sendCommand(out);
  return true;
}

/** The connection's socket, if it is up and nothing waits in the client's outbound buffer. */
function idleSocket(protocol: RawProtocol): RawSocket | undefined {
  const { transport } = protocol;
  const up = protocol.connected && protocol.infoReceived && !transport.isClosed;
  return up && protocol.outbound.length() === 0 ? transport.socket : undefined;
}

/** A buffer holding `line` (latin1) then `head`, with `extra` bytes after them left for the caller. */
function lineAndHead(line: string, head: Uint8Array, extra: number): Buffer {
  const out = Buffer.allocUnsafe(line.length + head.length + extra);
  out.write(line, 0, 'latin1');
  out.set(head, line.length);
  return out;
}
