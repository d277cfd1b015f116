import { Encoder } from 'cbor-x';
import { ByteParts } from './byte-parts';
import { DeliveryFailureNotice, NOTICE_LENGTH } from './delivery-failure';
import { DecodeError } from './errors';

/**
 * A body codec: how one kind of message body becomes bytes on the wire and back. A worker declares the
 * codec of the bodies it accepts (`@Worker({ message: codecs.string })`); a body of another kind is dropped
 * and counted before it reaches the handler.
 */
export interface Codec<T> {
  /** The wire tag written before the encoded body (see docs/PROTOCOL.md). */
  readonly tag: number;
  readonly name: string;
  /** True when a decoded body is of this codec's kind. */
  accepts(value: unknown): value is T;
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

const utf8Encoder = new TextEncoder();
// ignoreBOM: a value that starts with U+FEFF keeps it (by default the decoder strips it, so such a value
// would not round-trip, and one that is only a BOM would decode to an empty string).
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
// Standard CBOR only (no cbor-x record extension), so any CBOR implementation can read our bodies.
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });

const stringCodec: Codec<string> = {
  tag: 0,
  name: 'string',
  accepts: (value): value is string => typeof value === 'string',
  encode: (value) => utf8Encoder.encode(value),
  decode: (bytes) => {
    try {
      return utf8Decoder.decode(bytes);
    } catch (cause) {
      throw new DecodeError('MALFORMED', 'string body is not valid UTF-8', { cause });
    }
  },
};

const bytesCodec: Codec<Uint8Array> = {
  tag: 1,
  name: 'bytes',
  accepts: (value): value is Uint8Array => value instanceof Uint8Array,
  // A `ByteParts` is a bytes body too (see `codecFor`): joined here, where something encodes it whole.
  encode: (value) =>
    (value as unknown) instanceof ByteParts ? (value as unknown as ByteParts).join() : value,
  decode: (bytes) => bytes,
};

const cborCodec: Codec<unknown> = {
  tag: 2,
  name: 'cbor',
  accepts: (_value): _value is unknown => true,
  encode: (value) => cbor.encode(value),
  decode: (bytes) => {
    try {
      return cbor.decode(bytes);
    } catch (cause) {
      throw new DecodeError('MALFORMED', 'CBOR body does not decode', { cause });
    }
  },
};

/**
 * A CBOR codec whose bodies must pass `guard`: structured messages with a checked shape.
 */
function structured<T>(name: string, guard: (value: unknown) => value is T): Codec<T> {
  return {
    tag: cborCodec.tag,
    name,
    accepts: guard,
    encode: (value) => cborCodec.encode(value),
    decode: (bytes) => {
      const value = cborCodec.decode(bytes);
      if (!guard(value)) throw new DecodeError('MALFORMED', `CBOR body is not a valid ${name}`);
      return value;
    },
  };
}

/** The built-in body codecs. */
export const codecs = {
  /** UTF-8 text. */
  string: stringCodec,
  /** Raw bytes, passed through without copying. */
  bytes: bytesCodec,
  /** Any CBOR-encodable value (numbers, arrays, plain objects, strings, bytes). */
  cbor: cborCodec,
  structured,
} as const;

/** Delivery failure notices (docs/PROTOCOL.md 2.1): sent by nodes, never by workers' own encoders. */
const noticeCodec: Codec<DeliveryFailureNotice> = {
  tag: 3,
  name: 'delivery-failure-notice',
  accepts: (value): value is DeliveryFailureNotice => value instanceof DeliveryFailureNotice,
  encode: (value) => value.encode(),
  decode: (bytes) => DeliveryFailureNotice.decode(bytes),
};

const byTag: readonly Codec<unknown>[] = [
  stringCodec,
  bytesCodec,
  cborCodec,
  noticeCodec,
] as Codec<unknown>[];

/** The codec that `encodeBody` picks for a value: strings and bytes travel raw, notices as such, the rest as CBOR. */
export function codecFor(value: unknown): Codec<unknown> {
  if (typeof value === 'string') return stringCodec as Codec<unknown>;
  if (value instanceof Uint8Array || value instanceof ByteParts) return bytesCodec as Codec<unknown>;
  if (value instanceof DeliveryFailureNotice) return noticeCodec as Codec<unknown>;
  return cborCodec;
}

/** Encodes a body as `tag || bytes`. */
export function encodeBody(value: unknown): Uint8Array {
  const codec = codecFor(value);
  const encoded = codec.encode(value);
  const out = new Uint8Array(1 + encoded.length);
  out[0] = codec.tag;
  out.set(encoded, 1);
  return out;
}

/** The number of bytes `encodeBody(value)` will produce, without producing it for strings and bytes. */
export function encodedBodySize(value: unknown): number {
  if (typeof value === 'string') return 1 + Buffer.byteLength(value, 'utf8');
  if (value instanceof Uint8Array || value instanceof ByteParts) return 1 + value.length;
  if (value instanceof DeliveryFailureNotice) return 1 + NOTICE_LENGTH;
  return 1 + cborCodec.encode(value).length;
}

/** Decodes `tag || bytes`. Throws `DecodeError` for an empty buffer, an unknown tag or bad contents. */
export function decodeBody(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new DecodeError('TRUNCATED', 'empty body');
  const codec = byTag[bytes[0]!];
  if (codec === undefined) throw new DecodeError('MALFORMED', `unknown body tag ${bytes[0]}`);
  return codec.decode(bytes.subarray(1));
}
