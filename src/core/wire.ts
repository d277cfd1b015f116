import { Address } from './address';
import { DecodeError, MessageTooLargeError } from './errors';
import type { TransportMessage } from './message';
import { Route } from './route';

/** Version byte of the transport message encoding (docs/PROTOCOL.md). */
export const WIRE_VERSION = 1;
/** Default upper bound of an encoded transport message: a 16 MiB body plus its routes. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024 + 64 * 1024;
/** Routes longer than this are refused: no sane deployment needs more hops, and it bounds decoding work. */
export const MAX_ROUTE_LENGTH = 64;
/** Address values longer than this (in bytes) are refused. */
export const MAX_ADDRESS_BYTES = 1024;

const utf8Encoder = new TextEncoder();
// ignoreBOM: a value that starts with U+FEFF keeps it (by default the decoder strips it, so such a value
// would not round-trip, and one that is only a BOM would decode to an empty string).
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function writeVarint(out: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    out[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  out[offset++] = value;
  return offset;
}

/** A cursor over bytes from outside: every read checks the bytes are there before touching them. */
export class Reader {
  offset = 0;
  constructor(readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  u8(): number {
    if (this.offset >= this.bytes.length) throw new DecodeError('TRUNCATED', 'unexpected end of message');
    return this.bytes[this.offset++]!;
  }

  /** An unsigned LEB128 integer of at most 4 bytes (values up to 2^28 - 1). */
  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      const byte = this.u8();
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new DecodeError('MALFORMED', 'varint longer than 4 bytes');
  }

  take(length: number): Uint8Array {
    // Checked against what is actually present before anything is allocated or sliced.
    if (length > this.remaining)
      throw new DecodeError('TRUNCATED', `need ${length} bytes, have ${this.remaining}`);
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  rest(): Uint8Array {
    return this.take(this.remaining);
  }
}

function addressBytes(address: Address): Uint8Array {
  return utf8Encoder.encode(address.value);
}

function routeSize(route: Route, encoded: Uint8Array[]): number {
  let size = varintSize(route.length);
  for (const address of route) {
    const value = addressBytes(address);
    // The decoder refuses longer values, so encoding one would only produce a message no peer can read.
    if (value.length > MAX_ADDRESS_BYTES) {
      throw new DecodeError('TOO_LARGE', `address of ${value.length} bytes exceeds ${MAX_ADDRESS_BYTES}`);
    }
    encoded.push(value);
    size += varintSize(address.type) + varintSize(value.length) + value.length;
  }
  return size;
}

function writeRoute(out: Uint8Array, offset: number, route: Route, encoded: Uint8Array[], index: number) {
  offset = writeVarint(out, offset, route.length);
  for (const address of route) {
    const value = encoded[index++]!;
    offset = writeVarint(out, offset, address.type);
    offset = writeVarint(out, offset, value.length);
    out.set(value, offset);
    offset += value.length;
  }
  return { offset, index };
}

/** Encodes routes in the wire layout shared by transport messages and secure channel payloads. */
export function encodeTransportMessage(
  message: TransportMessage,
  maxSize: number = DEFAULT_MAX_MESSAGE_SIZE,
): Uint8Array {
  checkRoute(message.onwardRoute);
  checkRoute(message.returnRoute);
  const encoded: Uint8Array[] = [];
  const size =
    1 +
    routeSize(message.onwardRoute, encoded) +
    routeSize(message.returnRoute, encoded) +
    message.payload.length;
  if (size > maxSize) throw new MessageTooLargeError(size, maxSize);
  const out = new Uint8Array(size);
  out[0] = WIRE_VERSION;
  let cursor = writeRoute(out, 1, message.onwardRoute, encoded, 0);
  cursor = writeRoute(out, cursor.offset, message.returnRoute, encoded, cursor.index);
  out.set(message.payload, cursor.offset);
  return out;
}

function checkRoute(route: Route): void {
  if (route.length > MAX_ROUTE_LENGTH) {
    throw new DecodeError('TOO_LARGE', `route of ${route.length} hops exceeds ${MAX_ROUTE_LENGTH}`);
  }
}

/** Reads one route; throws `DecodeError` for anything malformed. */
export function readRoute(reader: Reader): Route {
  const count = reader.varint();
  if (count > MAX_ROUTE_LENGTH)
    throw new DecodeError('TOO_LARGE', `route of ${count} hops exceeds ${MAX_ROUTE_LENGTH}`);
  const hops: Address[] = [];
  for (let i = 0; i < count; i++) {
    const type = reader.varint();
    if (type > 0xffff) throw new DecodeError('MALFORMED', `address type ${type} out of range`);
    const length = reader.varint();
    if (length === 0 || length > MAX_ADDRESS_BYTES) {
      throw new DecodeError('MALFORMED', `address of ${length} bytes (must be 1..${MAX_ADDRESS_BYTES})`);
    }
    let value: string;
    try {
      value = utf8Decoder.decode(reader.take(length));
    } catch (cause) {
      if (cause instanceof DecodeError) throw cause;
      throw new DecodeError('MALFORMED', 'address is not valid UTF-8', { cause });
    }
    hops.push(new Address(type, value));
  }
  return Route.of(hops);
}

/**
 * Decodes a transport message. The payload is a view into `bytes` (no copy). Throws `DecodeError` with
 * `TOO_LARGE`, `UNSUPPORTED_VERSION`, `TRUNCATED` or `MALFORMED`.
 */
export function decodeTransportMessage(
  bytes: Uint8Array,
  maxSize: number = DEFAULT_MAX_MESSAGE_SIZE,
): TransportMessage {
  if (bytes.length > maxSize)
    throw new DecodeError('TOO_LARGE', `message of ${bytes.length} bytes exceeds ${maxSize}`);
  const reader = new Reader(bytes);
  const version = reader.u8();
  if (version !== WIRE_VERSION) throw new DecodeError('UNSUPPORTED_VERSION', `wire version ${version}`);
  const onwardRoute = readRoute(reader);
  const returnRoute = readRoute(reader);
  return { onwardRoute, returnRoute, payload: reader.rest() };
}
