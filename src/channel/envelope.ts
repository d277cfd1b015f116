import { codecFor, codecs, decodeBody } from '../core/codec';
import type { Route } from '../core/route';
import { decodeTransportMessage, encodeTransportMessage } from '../core/wire';
import { SecureChannelError } from './errors';
import { MAX_FRAME_PLAINTEXT } from './frames';

const EMPTY = new Uint8Array(0);

/**
 * A message as it travels inside a secure channel: the rest of its onward route, its return route and its
 * body, in the transport message layout (docs/PROTOCOL.md section 1), measured but not yet copied anywhere:
 * its bytes are written straight into frame plaintexts (`writeEnvelope`).
 */
export interface Envelope {
  /** Version byte and both routes. */
  readonly routes: Uint8Array;
  /** The body codec's tag. */
  readonly tag: number;
  /** A text body, still a string (encoded straight into the plaintext when it fits in one frame). */
  readonly text: string | undefined;
  /** Any other body, encoded. */
  readonly bytes: Uint8Array | undefined;
  /** The encoded message's length: routes, tag and body. */
  readonly length: number;
}

/**
 * Measures a message for a channel: encodes its routes, and its body unless it is text or bytes (bytes are
 * used as they are, text is encoded later, straight into place). Throws `TOO_LARGE` above `maxSize`.
 */
export function prepareEnvelope(
  onwardRoute: Route,
  returnRoute: Route,
  body: unknown,
  maxSize: number,
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
  return { routes, tag: codec.tag, text, bytes, length };
}

/** A large text body as bytes, so that it can be cut into pieces (UTF-8 cannot be encoded piecewise). */
export function withBytes(envelope: Envelope): Envelope {
  if (envelope.text === undefined) return envelope;
  const encoded = Buffer.from(envelope.text, 'utf8');
  return {
    ...envelope,
    text: undefined,
    bytes: new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.length),
  };
}

/**
 * Copies bytes `from` .. `from + length` of the encoded message to `out` at `at`, taking them from the
 * routes, the tag and the body as they fall. A text body must be written whole (`from` 0, all of it).
 */
export function writeEnvelope(
  envelope: Envelope,
  from: number,
  length: number,
  out: Uint8Array,
  at: number,
): void {
  const { routes, bytes } = envelope;
  let position = from;
  const end = from + length;
  if (position < routes.length) {
    const take = Math.min(end, routes.length) - position;
    out.set(routes.subarray(position, position + take), at);
    at += take;
    position += take;
  }
  if (position === routes.length && position < end) {
    out[at++] = envelope.tag;
    position++;
  }
  if (position >= end) return;
  const bodyFrom = position - routes.length - 1;
  if (bytes !== undefined) {
    out.set(bytes.subarray(bodyFrom, bodyFrom + (end - position)), at);
  } else {
    const text = out === scratch ? scratchText : Buffer.from(out.buffer, out.byteOffset, out.length);
    text.write(envelope.text!, at, end - position, 'utf8');
  }
}

/**
 * The plaintext of the frame being built. Encryption is synchronous and never keeps its input, so one buffer
 * serves every channel of the process: no plaintext is allocated per message.
 */
export const scratch = allocate(MAX_FRAME_PLAINTEXT);
const scratchText = Buffer.from(scratch.buffer, scratch.byteOffset, scratch.length);

/**
 * Decodes a message. Routes and a bytes body are views into `bytes`. Throws `DecodeError`.
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
 * A buffer of its own (never a slice of Node's shared pool, so no other data is reachable through
 * `.buffer`), uninitialised: for buffers whose every byte is written before anyone reads it (frames,
 * reassembled messages), skipping the zero fill that a 64 KiB frame would otherwise pay on every send.
 */
export function allocate(size: number): Uint8Array {
  const buffer = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, size);
}
