import { Address } from './address';
import { codecFor } from './codec';
import { DecodeError, EncodeError, MessageTooLargeError } from './errors';
import { isTraceparent, type TransportMessage } from './message';
import { Route } from './route';
import { cachedRoute, rememberRoute, type LastRoute } from './route-cache';
import { Reader, asBuffer } from './wire-reader';

/** Version byte of the transport message encoding (docs/PROTOCOL.md). */
export const WIRE_VERSION = 1;
/**
 * Version byte of a transport message that carries a trace context (a length byte and the `traceparent`
 * after the routes). Written only for a message that has one, so a node that never traces never sends it.
 */
export const WIRE_VERSION_TRACED = 2;
/** Default upper bound of an encoded transport message: a 16 MiB body plus its routes. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024 + 64 * 1024;
/** Routes longer than this are refused: no sane deployment needs more hops, and it bounds decoding work. */
export const MAX_ROUTE_LENGTH = 64;
/** Address values longer than this (in bytes) are refused. */
export const MAX_ADDRESS_BYTES = 1024;

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

/** The encoded size of a route, checking its length and the size of each address. */
function routeSize(route: Route): number {
  if (route.length > MAX_ROUTE_LENGTH) {
    throw new EncodeError('ROUTE_TOO_LONG', `route of ${route.length} hops exceeds ${MAX_ROUTE_LENGTH}`);
  }
  let size = varintSize(route.length);
  for (const address of route) {
    const length = address.byteLength;
    // The decoder refuses longer values, so encoding one would only produce a message no peer can read.
    if (length > MAX_ADDRESS_BYTES) {
      throw new EncodeError('ADDRESS_TOO_LONG', `address of ${length} bytes exceeds ${MAX_ADDRESS_BYTES}`);
    }
    size += varintSize(address.type) + varintSize(length) + length;
  }
  return size;
}

function writeRoute(out: Uint8Array, offset: number, route: Route): number {
  offset = writeVarint(out, offset, route.length);
  for (const address of route) {
    const { value, byteLength } = address;
    offset = writeVarint(out, offset, address.type);
    offset = writeVarint(out, offset, byteLength);
    if (byteLength === value.length) {
      // ASCII: a short copy loop beats a native call for the few dozen bytes of an address.
      for (let i = 0; i < byteLength; i++) out[offset + i] = value.charCodeAt(i);
    } else {
      asBuffer(out).write(value, offset, byteLength, 'utf8');
    }
    offset += byteLength;
  }
  return offset;
}

/** The body encoded by its codec: a text body stays a string, to be written straight into place. */
interface BodyParts {
  readonly tag: number;
  readonly text: string | undefined;
  readonly bytes: Uint8Array | undefined;
  readonly length: number;
}

function bodyParts(body: unknown): BodyParts {
  const codec = codecFor(body);
  if (typeof body === 'string') {
    return { tag: codec.tag, text: body, bytes: undefined, length: Buffer.byteLength(body, 'utf8') };
  }
  const bytes = codec.encode(body);
  return { tag: codec.tag, text: undefined, bytes, length: bytes.length };
}

/**
 * Encodes a message with a body not yet encoded straight into one buffer: `headerReserve` bytes left for
 * the caller (a transport's length prefix), then version, routes, the body's codec tag and its bytes, the
 * layout `encodeTransportMessage` gives for `payload: encodeBody(body)`, without either intermediate copy.
 * Throws `MessageTooLargeError` when the message (without the reserve) exceeds `maxSize`, and `DecodeError`
 * (`TOO_LARGE`) for a route or an address no peer would accept. The reserved bytes are uninitialised.
 */
export function encodeFrame(
  onwardRoute: Route,
  returnRoute: Route,
  body: unknown,
  maxSize: number = DEFAULT_MAX_MESSAGE_SIZE,
  headerReserve = 0,
  traceContext?: string,
): Buffer {
  const trace = traceToWrite(traceContext);
  const parts = bodyParts(body);
  const size = 1 + routeSize(onwardRoute) + routeSize(returnRoute) + traceSize(trace) + 1 + parts.length;
  if (size > maxSize) throw new MessageTooLargeError(size, maxSize);
  // allocUnsafe: every byte past the reserve is written below; small frames come from Node's pool.
  const out = Buffer.allocUnsafe(headerReserve + size);
  const offset = writeHead(out, headerReserve, onwardRoute, returnRoute, parts.tag, trace);
  if (parts.bytes !== undefined) out.set(parts.bytes, offset);
  else out.write(parts.text!, offset, parts.length, 'utf8');
  return out;
}

/**
 * The head of a frame whose body is bytes, and those bytes not copied: `headerReserve` bytes left for the
 * caller, then version, routes, trace and the `bytes` codec tag, exactly what `encodeFrame` writes before
 * the body. A transport writes the head and then `body` itself (gathered in one `writev`), so a large body
 * is never copied on its way out. Throws as `encodeFrame` does, counting the body's `bodyLength` bytes.
 */
export function encodeFrameHead(
  onwardRoute: Route,
  returnRoute: Route,
  bodyLength: number,
  maxSize: number = DEFAULT_MAX_MESSAGE_SIZE,
  headerReserve = 0,
  traceContext?: string,
): Buffer {
  const trace = traceToWrite(traceContext);
  const headSize = 1 + routeSize(onwardRoute) + routeSize(returnRoute) + traceSize(trace) + 1;
  const size = headSize + bodyLength;
  if (size > maxSize) throw new MessageTooLargeError(size, maxSize);
  const out = Buffer.allocUnsafe(headerReserve + headSize);
  writeHead(out, headerReserve, onwardRoute, returnRoute, BYTES_TAG, trace);
  return out;
}

/** Writes version, onward and return routes, trace and the body's codec tag; returns where the body goes. */
function writeHead(out: Buffer, at: number, onward: Route, back: Route, tag: number, trace?: string): number {
  const offset = writeRoutes(out, at, onward, back, trace);
  out[offset] = tag;
  return offset + 1;
}

/** Writes version, both routes and a trace context already checked (`traceToWrite`); returns the end. */
function writeRoutes(out: Uint8Array, at: number, onward: Route, back: Route, trace?: string): number {
  out[at] = trace === undefined ? WIRE_VERSION : WIRE_VERSION_TRACED;
  return writeTrace(out, writeRoute(out, writeRoute(out, at + 1, onward), back), trace);
}

/**
 * The size of a transport message's head, all that comes before its payload: version, both routes and the
 * trace context (if a valid `traceparent`). Throws `EncodeError` for a route or an address no peer would
 * accept. With `writeTransportHead`, a caller builds a message in a buffer of its own (a channel plaintext).
 */
export function transportHeadSize(onwardRoute: Route, returnRoute: Route, trace?: string): number {
  return 1 + routeSize(onwardRoute) + routeSize(returnRoute) + traceSize(traceToWrite(trace));
}

/**
 * Writes the head `transportHeadSize` measured (the same bytes `encodeTransportMessage` starts with) into
 * `out` at `at`, whose room the caller checked; returns where the payload goes.
 */
export function writeTransportHead(
  out: Uint8Array,
  at: number,
  onwardRoute: Route,
  returnRoute: Route,
  trace?: string,
): number {
  return writeRoutes(out, at, onwardRoute, returnRoute, traceToWrite(trace));
}

/** The wire tag of a bytes body (`codecs.bytes`), what `encodeFrameHead` writes. */
const BYTES_TAG = codecFor(new Uint8Array(0)).tag;

/** The encoded size of a trace context (checked by `traceToWrite`): none, or a length byte and the text. */
function traceSize(trace: string | undefined): number {
  return trace === undefined ? 0 : 1 + trace.length;
}

/** The trace context to write: a valid `traceparent`, else none (as W3C says of an invalid one). */
function traceToWrite(trace: string | undefined): string | undefined {
  return trace !== undefined && isTraceparent(trace) ? trace : undefined;
}

function writeTrace(out: Uint8Array, offset: number, trace: string | undefined): number {
  if (trace === undefined) return offset;
  out[offset++] = trace.length;
  for (let i = 0; i < trace.length; i++) out[offset + i] = trace.charCodeAt(i);
  return offset + trace.length;
}

/** Encodes routes in the wire layout shared by transport messages and secure channel payloads. */
export function encodeTransportMessage(
  message: TransportMessage,
  maxSize: number = DEFAULT_MAX_MESSAGE_SIZE,
): Uint8Array {
  const trace = traceToWrite(message.trace);
  const size =
    1 +
    routeSize(message.onwardRoute) +
    routeSize(message.returnRoute) +
    traceSize(trace) +
    message.payload.length;
  if (size > maxSize) throw new MessageTooLargeError(size, maxSize);
  const out = new Uint8Array(size);
  out.set(message.payload, writeRoutes(out, 0, message.onwardRoute, message.returnRoute, trace));
  return out;
}

/**
 * Reads one route; throws `DecodeError`. `cache`: true through the process's route cache, false not (for
 * routes seldom seen twice), or a `LastRoute` of the caller's (the last route read at that place).
 */
export function readRoute(reader: Reader, cache: boolean | LastRoute = true): Route {
  if (cache === false) return decodeRoute(reader);
  const { bytes, offset: start } = reader;
  // The structure alone first (every check but UTF-8's), to find the end; then the cache (route-cache.ts).
  const count = readRouteCount(reader);
  for (let i = 0; i < count; i++) {
    readAddressType(reader);
    const length = readAddressLength(reader);
    reader.offset += length;
  }
  const end = reader.offset;
  const cached = cache === true ? cachedRoute(bytes, start, end) : cache.get(bytes, start, end);
  if (cached !== undefined) return cached;
  reader.offset = start;
  const route = decodeRoute(reader);
  if (cache === true) rememberRoute(bytes, start, end, route);
  else cache.remember(bytes, start, end, route);
  return route;
}

function readRouteCount(reader: Reader): number {
  const count = reader.varint();
  if (count > MAX_ROUTE_LENGTH)
    throw new DecodeError('TOO_LARGE', `route of ${count} hops exceeds ${MAX_ROUTE_LENGTH}`);
  return count;
}

function readAddressType(reader: Reader): number {
  const type = reader.varint();
  if (type <= 0xffff) return type;
  throw new DecodeError('MALFORMED', `address type ${type} out of range`);
}

/** An address's length, checked against the bounds and against the bytes present. */
function readAddressLength(reader: Reader): number {
  const length = reader.varint();
  if (length === 0 || length > MAX_ADDRESS_BYTES) {
    throw new DecodeError('MALFORMED', `address of ${length} bytes (must be 1..${MAX_ADDRESS_BYTES})`);
  }
  if (length > reader.remaining)
    throw new DecodeError('TRUNCATED', `need ${length} bytes, have ${reader.remaining}`);
  return length;
}

function decodeRoute(reader: Reader): Route {
  const count = readRouteCount(reader);
  const hops: Address[] = [];
  for (let i = 0; i < count; i++) {
    const type = readAddressType(reader);
    const length = readAddressLength(reader);
    hops.push(Address.decoded(type, reader.utf8(length), length));
  }
  return Route.of(hops);
}

/**
 * Decodes a transport message. The payload is a view into `bytes` (no copy). Throws `DecodeError` with
 * `TOO_LARGE`, `UNSUPPORTED_VERSION`, `TRUNCATED` or `MALFORMED`. `cacheRoutes` (and `cacheReturnRoute`
 * for the return route, if another): see `readRoute`.
 */
export function decodeTransportMessage(
  bytes: Uint8Array,
  maxSize: number = DEFAULT_MAX_MESSAGE_SIZE,
  cacheRoutes: boolean | LastRoute = true,
  cacheReturnRoute = cacheRoutes,
): TransportMessage {
  if (bytes.length > maxSize)
    throw new DecodeError('TOO_LARGE', `message of ${bytes.length} bytes exceeds ${maxSize}`);
  const reader = new Reader(bytes);
  const version = reader.u8();
  if (version !== WIRE_VERSION && version !== WIRE_VERSION_TRACED)
    throw new DecodeError('UNSUPPORTED_VERSION', `wire version ${version}`);
  const onwardRoute = readRoute(reader, cacheRoutes);
  const returnRoute = readRoute(reader, cacheReturnRoute);
  if (version === WIRE_VERSION) return { onwardRoute, returnRoute, payload: reader.rest() };
  const trace = reader.utf8(reader.u8());
  if (!isTraceparent(trace)) throw new DecodeError('MALFORMED', 'the trace context is not a W3C traceparent');
  return { onwardRoute, returnRoute, payload: reader.rest(), trace };
}
