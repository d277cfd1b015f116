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
  const cached = cachedRouteBytes[slot];
  if (cached === undefined || cached.length !== size) return undefined;
  let i = 0;
  while (i < size && cached[i] === bytes[start + i]) i++;
  return i === size ? cachedRoutes[slot] : undefined;
}

/** Caches `route`, decoded from `bytes[start..end)`, in the slot the `cachedRoute` call just before chose. */
export function rememberRoute(bytes: Uint8Array, start: number, end: number, route: Route): void {
  if (end - start > ROUTE_CACHE_MAX_BYTES) return;
  cachedRouteBytes[slot] = bytes.slice(start, end);
  cachedRoutes[slot] = route;
}
