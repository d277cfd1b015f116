import { ByteParts } from './byte-parts';
import { codecFor, decodeBody } from './codec';
import type { Route } from './route';
import { decodeTransportMessage } from './wire';

/** The wire tag of a bytes body (`codecs.bytes`). */
const BYTES_TAG = codecFor(new Uint8Array(0)).tag;

/** A transport message decoded from a frame, with its body decoded. */
export interface DecodedFrame {
  readonly onwardRoute: Route;
  readonly returnRoute: Route;
  readonly trace?: string;
  /** A bytes body as the `ByteParts` views it lies in (not copied); any other body decoded as usual. */
  readonly body: unknown;
}

/**
 * Decodes a frame that came in several pieces (`FrameParser` hands out a large frame that spans reads as
 * `ByteParts` of views): its routes from the first piece (the whole frame joined in the rare case they do
 * not fit in it), and a bytes body left as the views it lies in, so that a hub forwards it without copying
 * it (a stream connection writes parts as they are; the router joins them for any other recipient). Throws
 * `DecodeError` as `decodeTransportMessage` and `decodeBody` do.
 */
export function decodeFrameParts(frame: ByteParts, maxSize: number): DecodedFrame {
  const [first, ...rest] = frame.parts;
  if (first === undefined || frame.length > maxSize) return decodeJoined(frame, maxSize);
  let head;
  try {
    head = decodeTransportMessage(first, maxSize);
  } catch {
    return decodeJoined(frame, maxSize); // routes that span pieces, or bytes that do not decode
  }
  const { onwardRoute, returnRoute, trace } = head;
  const payload = [head.payload, ...rest].filter((part) => part.length > 0);
  if (payload[0]?.[0] !== BYTES_TAG) {
    return { onwardRoute, returnRoute, trace, body: decodeBody(new ByteParts(payload).join()) };
  }
  payload[0] = payload[0].subarray(1);
  return { onwardRoute, returnRoute, trace, body: new ByteParts(payload.filter((part) => part.length > 0)) };
}

/** Decodes a frame that lies in one buffer. Throws `DecodeError`. */
export function decodeFrame(frame: Uint8Array, maxSize: number): DecodedFrame {
  const { onwardRoute, returnRoute, trace, payload } = decodeTransportMessage(frame, maxSize);
  return { onwardRoute, returnRoute, trace, body: decodeBody(payload) };
}

function decodeJoined(frame: ByteParts, maxSize: number): DecodedFrame {
  return decodeFrame(frame.join(), maxSize);
}
