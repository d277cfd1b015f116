import { codecFor, codecs, decodeBody } from '../core/codec';
import type { Route } from '../core/route';
import { decodeTransportMessage, encodeTransportMessage } from '../core/wire';
import { SecureChannelError } from './errors';

const EMPTY = new Uint8Array(0);

/**
 * A message as it travels inside a secure channel: the rest of its onward route, its return route and its
 * body, in the transport message layout (docs/PROTOCOL.md section 1), after `lead` bytes left free for the
 * frame's own header so that nothing is copied again before encryption.
 */
export interface Envelope {
  /** `lead` free bytes, then the encoded message. */
  readonly buffer: Uint8Array;
  /** Where the encoded message starts in `buffer`. */
  readonly lead: number;
  /** The encoded message's length. */
  readonly length: number;
}

/**
 * Encodes a message for a channel. `leadFor(length)` says how many bytes to leave before it (a frame
 * header whose size depends on whether the message must be chunked). The body is written once, straight
 * into the buffer: UTF-8 text is encoded in place, bytes are copied once, other values are CBOR-encoded
 * then copied. Throws `TOO_LARGE` above `maxSize`, before allocating the buffer.
 */
export function encodeEnvelope(
  onwardRoute: Route,
  returnRoute: Route,
  body: unknown,
  maxSize: number,
  leadFor: (length: number) => number,
): Envelope {
  let routes: Uint8Array;
  try {
    routes = encodeTransportMessage({ onwardRoute, returnRoute, payload: EMPTY });
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
  const length = routes.length + 1 + bodyLength;
  if (length > maxSize) {
    throw new SecureChannelError(
      'TOO_LARGE',
      `a message of ${length} bytes exceeds the channel's maximum of ${maxSize}`,
    );
  }
  const lead = leadFor(length);
  const buffer = allocate(lead + length);
  buffer.set(routes, lead);
  let offset = lead + routes.length;
  buffer[offset++] = codec.tag;
  if (text !== undefined) {
    Buffer.from(buffer.buffer, buffer.byteOffset, buffer.length).write(text, offset, bodyLength, 'utf8');
  } else {
    buffer.set(bytes!, offset);
  }
  return { buffer, lead, length };
}

/**
 * Decodes an envelope's message. Routes and a bytes body are views into `bytes`. Throws `DecodeError`.
 */
export function decodeEnvelope(bytes: Uint8Array): {
  onwardRoute: Route;
  returnRoute: Route;
  body: unknown;
} {
  // The size was bounded by the frame or by reassembly already.
  const message = decodeTransportMessage(bytes, Number.MAX_SAFE_INTEGER);
  return {
    onwardRoute: message.onwardRoute,
    returnRoute: message.returnRoute,
    body: decodeBody(message.payload),
  };
}

/**
 * An uninitialised buffer of its own (never a slice of Node's shared pool, so no other data is reachable
 * through `.buffer`); every byte of it is written before it is read.
 */
function allocate(size: number): Uint8Array {
  const buffer = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, size);
}
