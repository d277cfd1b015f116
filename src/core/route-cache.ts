import type { Route } from './route';

/**
 * Routes decoded lately, by a hash of their bytes: most frames of a connection carry the same few routes
 * (a channel's decryptor, the hub's forwarders), and a route is immutable, so the same bytes give back the
 * same `Route` without decoding its addresses again. Direct-mapped and bounded (`ROUTE_CACHE_SLOTS` routes
 * of at most `ROUTE_CACHE_MAX_BYTES` bytes each); an entry is used only when its bytes are equal, byte for
 * byte, to the route read, which then decodes to an equal route: the cache changes no result and no error.
 */
const ROUTE_CACHE_SLOTS = 64;
const ROUTE_CACHE_MAX_BYTES = 256;
const cachedRouteBytes = new Array<Uint8Array | undefined>(ROUTE_CACHE_SLOTS);
const cachedRoutes = new Array<Route | undefined>(ROUTE_CACHE_SLOTS);

/** The slot the last `cachedRoute` looked in: `rememberRoute` fills it. */
let slot = 0;

/** The cached route whose bytes are `bytes[start..end)`, if any (see `readRoute` in wire.ts). */
export function cachedRoute(bytes: Uint8Array, start: number, end: number): Route | undefined {
  const size = end - start;
  if (size > ROUTE_CACHE_MAX_BYTES) return undefined;
  let hash = 0x811c9dc5; // FNV-1a
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  slot = (hash >>> 0) & (ROUTE_CACHE_SLOTS - 1);
  return sameBytes(cachedRouteBytes[slot], bytes, start, end) ? cachedRoutes[slot] : undefined;
}

/** Caches `route`, decoded from `bytes[start..end)`, in the slot the `cachedRoute` call just before chose. */
export function rememberRoute(bytes: Uint8Array, start: number, end: number, route: Route): void {
  if (end - start > ROUTE_CACHE_MAX_BYTES) return;
  cachedRouteBytes[slot] = copyOf(bytes, start, end);
  cachedRoutes[slot] = route;
}

/**
 * The last route read from one source, kept with its bytes: a secure channel's messages carry the same few
 * routes as a rule, so one slot per route position saves decoding (and allocating) them again. Used, as the
 * cache above, only when the bytes read equal the kept bytes, byte for byte (at most
 * `ROUTE_CACHE_MAX_BYTES` of them compared).
 */
export class LastRoute {
  private bytes: Uint8Array | undefined;
  private route: Route | undefined;

  /** The kept route if its bytes are `bytes[start..end)`. */
  get(bytes: Uint8Array, start: number, end: number): Route | undefined {
    return sameBytes(this.bytes, bytes, start, end) ? this.route : undefined;
  }

  /** Keeps `route`, decoded from `bytes[start..end)` (a copy of them: the bytes are the caller's). */
  remember(bytes: Uint8Array, start: number, end: number, route: Route): void {
    if (end - start > ROUTE_CACHE_MAX_BYTES) return;
    this.bytes = copyOf(bytes, start, end);
    this.route = route;
  }
}

/** Whether `kept` holds exactly the bytes `bytes[start..end)`. */
function sameBytes(kept: Uint8Array | undefined, bytes: Uint8Array, start: number, end: number): boolean {
  const size = end - start;
  if (kept === undefined || kept.length !== size) return false;
  let i = 0;
  while (i < size && kept[i] === bytes[start + i]) i++;
  return i === size;
}

/**
 * A copy of `bytes[start..end)`, even when `bytes` is a Buffer (whose own `slice` is a view): a kept view
 * would hold the whole frame or socket chunk in memory, and would change with it were that buffer reused,
 * so that a cached route could answer for bytes it was not decoded from.
 */
function copyOf(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes, start, end);
}
