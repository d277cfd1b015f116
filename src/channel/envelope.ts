import { codecFor, codecs, decodeBody } from '../core/codec';
import type { Route } from '../core/route';
import type { LastRoute } from '../core/route-cache';
import {
  decodeTransportMessage,
  encodeTransportMessage,
  transportHeadSize,
  writeTransportHead,
} from '../core/wire';
import { SecureChannelError } from './errors';
import { scratch } from './frames';

const EMPTY = new Uint8Array(0);
const scratchText = Buffer.from(scratch.buffer, scratch.byteOffset, scratch.length);

/**
 * A message as it travels inside a secure channel: the rest of its onward route, its return route and its
 * body, in the transport message layout (docs/PROTOCOL.md section 1), measured but not yet copied anywhere:
 * its bytes are written straight into frame plaintexts (`write`). A send enters this file twice: `of`, then
 * `write` (once per piece of a chunked message).
 */
export class Envelope {
  /** The head as bytes, made only for a head that a piece boundary cuts (see `write`). */
  private headBytes: Uint8Array | undefined;

  private constructor(
    private readonly onwardRoute: Route,
    private readonly returnRoute: Route,
    private readonly trace: string | undefined,
    /** The length of the head: version byte, both routes, trace context. */
    private readonly headLength: number,
    /** The body codec's tag. */
    private readonly tag: number,
    /** A text body, still a string (encoded straight into the plaintext when it fits in one frame). */
    private readonly text: string | undefined,
    /** Any other body, encoded. */
    private readonly bytes: Uint8Array | undefined,
    /** The encoded message's length: head, tag and body. */
    readonly length: number,
  ) {}

  /**
   * Measures a message for a channel: its routes (written later, straight into place), and its body unless
   * it is text or bytes (bytes are used as they are, text is encoded later, straight into place). Throws
   * `TOO_LARGE` above `maxSize`, or for routes no peer would accept.
   */
  static of(
    onwardRoute: Route,
    returnRoute: Route,
    body: unknown,
    maxSize: number,
    trace?: string,
  ): Envelope {
    let headLength: number;
    try {
      // With a trace context, the version-2 layout: it is written after the routes, before the body's tag.
      headLength = transportHeadSize(onwardRoute, returnRoute, trace);
    } catch (cause) {
      throw new SecureChannelError('TOO_LARGE', 'the routes of the message cannot be encoded', { cause });
    }
    const codec = codecFor(body);
    let text: string | undefined;
    let bytes: Uint8Array | undefined;
    let bodyLength: number;
    if (codec === codecs.string) {
      text = body as string;
      bodyLength = Buffer.byteLength(text, 'utf8');
    } else {
      bytes = codec.encode(body);
      bodyLength = bytes.length;
    }
    const length = headLength + 1 + bodyLength;
    if (length > maxSize) {
      throw new SecureChannelError(
        'TOO_LARGE',
        `a message of ${length} bytes exceeds the channel's maximum of ${maxSize}`,
      );
    }
    return new Envelope(onwardRoute, returnRoute, trace, headLength, codec.tag, text, bytes, length);
  }

  /** The same message with a text body as bytes, so it can be cut into pieces (UTF-8 cannot be, piecewise). */
  inPieces(): Envelope {
    if (this.text === undefined) return this;
    const encoded = Buffer.from(this.text, 'utf8');
    const bytes = new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.length);
    const { onwardRoute, returnRoute, trace, headLength, tag, length } = this;
    return new Envelope(onwardRoute, returnRoute, trace, headLength, tag, undefined, bytes, length);
  }

  /**
   * Bytes `from` .. `from + length` of the encoded message as a head and a view: what falls in the head
   * and the tag is copied to `out` at `at`, what falls in the body is returned as a view of the body, not
   * copied (the head's length is `length` minus the view's). Undefined for a text body (use `write`).
   */
  writeHead(from: number, length: number, out: Uint8Array, at: number): Uint8Array | undefined {
    const { bytes } = this;
    if (bytes === undefined) return undefined;
    const bodyStart = this.headLength + 1;
    const end = from + length;
    if (from < bodyStart) this.write(from, Math.min(end, bodyStart) - from, out, at);
    return end <= bodyStart ? EMPTY : bytes.subarray(Math.max(from, bodyStart) - bodyStart, end - bodyStart);
  }

  /**
   * Writes bytes `from` .. `from + length` of the encoded message to `out` at `at`, taking them from the
   * head, the tag and the body as they fall. A text body must be written whole (`from` 0, all of it).
   */
  write(from: number, length: number, out: Uint8Array, at: number): void {
    const { headLength, bytes } = this;
    let position = from;
    const end = from + length;
    if (position < headLength) {
      const take = Math.min(end, headLength) - position;
      if (take === headLength) {
        writeTransportHead(out, at, this.onwardRoute, this.returnRoute, this.trace);
      } else {
        // Routes longer than a piece: the head is cut by a piece boundary, so it is encoded once, then cut.
        const { onwardRoute, returnRoute, trace } = this;
        this.headBytes ??= encodeTransportMessage({ onwardRoute, returnRoute, payload: EMPTY, trace });
        out.set(this.headBytes.subarray(position, position + take), at);
      }
      at += take;
      position += take;
    }
    if (position === headLength && position < end) {
      out[at++] = this.tag;
      position++;
    }
    if (position >= end) return;
    const bodyFrom = position - headLength - 1;
    if (bytes !== undefined) {
      out.set(bytes.subarray(bodyFrom, bodyFrom + (end - position)), at);
    } else {
      const text = out === scratch ? scratchText : Buffer.from(out.buffer, out.byteOffset, out.length);
      text.write(this.text!, at, end - position, 'utf8');
    }
  }
}

/** A message decrypted from a channel. Routes and a bytes body are views into its bytes. */
export interface OpenedEnvelope {
  readonly onwardRoute: Route;
  readonly returnRoute: Route;
  readonly body: unknown;
  /** The trace context it carried, if any. */
  readonly trace?: string;
}

/** What a decryptor keeps between the messages it decodes: the last onward and return routes read. */
export interface LastRoutes {
  readonly onward: LastRoute;
  readonly back: LastRoute;
}

/**
 * Decodes a message written by `Envelope.write`. Throws `DecodeError`. With `last`, a route whose bytes are
 * those of the last one read at its place is that same `Route` (a channel's messages repeat their routes).
 */
export function decodeEnvelope(bytes: Uint8Array, last?: LastRoutes): OpenedEnvelope {
  // The size was bounded by the frame or by reassembly already. The routes inside a channel end at a
  // request's own reply address as often as not: the route cache (for a connection's few routes) is left out.
  const message = decodeTransportMessage(
    bytes,
    Number.MAX_SAFE_INTEGER,
    last?.onward ?? false,
    last?.back ?? false,
  );
  return {
    onwardRoute: message.onwardRoute,
    returnRoute: message.returnRoute,
    body: decodeBody(message.payload),
    ...(message.trace === undefined ? {} : { trace: message.trace }),
  };
}
