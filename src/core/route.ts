import { Address, type AddressType } from './address';
import { AddressError } from './errors';

/** Anything with an address: a context, a secure channel, a connection. */
export interface Addressable {
  readonly address: Address;
}

/**
 * Anything `route(...)` accepts as a piece: an address, its text form, a `[type, value]` tuple, a route,
 * or something with an address (a secure channel, a context).
 */
export type RoutePart = Address | string | readonly [AddressType, string] | Route | Addressable;

/**
 * An immutable list of addresses: where a message goes next (onward route) or how a reply finds its way
 * back (return route). Every operation returns a new route; routes share no mutable state.
 */
export class Route {
  static readonly EMPTY = new Route([]);

  private constructor(private readonly hops: readonly Address[]) {}

  /** Wraps an array of addresses (the array is copied). */
  static of(addresses: readonly Address[]): Route {
    return addresses.length === 0 ? Route.EMPTY : new Route(addresses.slice());
  }

  /** A route of one hop (what `of([address])` makes, without copying an array). */
  static one(address: Address): Route {
    return new Route([address]);
  }

  /** Parses `0#a => 1#127.0.0.1:4000 => b`, the printed form. */
  static parse(text: string): Route {
    const trimmed = text.trim();
    if (trimmed === '') return Route.EMPTY;
    return new Route(trimmed.split('=>').map((part) => Address.parse(part.trim())));
  }

  get length(): number {
    return this.hops.length;
  }

  get isEmpty(): boolean {
    return this.hops.length === 0;
  }

  /** The first hop, or undefined for an empty route. */
  get next(): Address | undefined {
    return this.hops[0];
  }

  /** The first hop; throws for an empty route. */
  nextOrThrow(): Address {
    const first = this.hops[0];
    if (first === undefined) throw new AddressError('INVALID_ADDRESS', 'route is empty');
    return first;
  }

  /** The last hop, or undefined. */
  get recipient(): Address | undefined {
    return this.hops[this.hops.length - 1];
  }

  /** The route without its first hop. */
  stepForward(): Route {
    return this.hops.length <= 1 ? Route.EMPTY : new Route(this.hops.slice(1));
  }

  /** A route with `address` in front. */
  prepend(address: Address): Route {
    return new Route([address, ...this.hops]);
  }

  /** A route with `address` at the end. */
  append(address: Address): Route {
    return new Route([...this.hops, address]);
  }

  /** This route followed by another. */
  concat(other: Route): Route {
    if (other.isEmpty) return this;
    if (this.isEmpty) return other;
    return new Route([...this.hops, ...other.hops]);
  }

  /** The addresses, in order. */
  addresses(): readonly Address[] {
    return this.hops;
  }

  at(index: number): Address | undefined {
    return this.hops[index];
  }

  equals(other: Route): boolean {
    if (other.hops.length !== this.hops.length) return false;
    for (let i = 0; i < this.hops.length; i++) if (this.hops[i]!.key !== other.hops[i]!.key) return false;
    return true;
  }

  toString(): string {
    return this.hops.map((a) => a.key).join(' => ');
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.iterator](): Iterator<Address> {
    return this.hops[Symbol.iterator]();
  }
}

/**
 * Builds a route from pieces: `route('echoer')`, `route([TCP, '127.0.0.1:4000'], forwarder, 'listener')`,
 * `route(channel, 'echoer')` where `channel` is an Address or another Route. Strings parse as addresses
 * (`1#host:port`, or a bare local name).
 */
export function route(...parts: readonly RoutePart[]): Route {
  const hops: Address[] = [];
  for (const part of parts) {
    if (part instanceof Address) hops.push(part);
    else if (part instanceof Route) hops.push(...part.addresses());
    else if (typeof part === 'string') hops.push(Address.parse(part));
    else if (Array.isArray(part)) hops.push(new Address(part[0], part[1]));
    else if ((part as Addressable).address instanceof Address) hops.push((part as Addressable).address);
    else throw new AddressError('INVALID_ADDRESS', `not a route part: ${String(part)}`);
  }
  return Route.of(hops);
}

/** Where a message goes: a route, an address, or anything `route(...)` takes as one piece, or a list of pieces. */
export type Destination = Route | Address | string | Addressable | readonly RoutePart[];

/** The route `to` stands for: a route as it is, an address as a one-hop route, pieces as `route(...)` builds them. */
export function toRoute(to: Destination): Route {
  if (to instanceof Route) return to;
  if (to instanceof Address) return Route.of([to]);
  if (Array.isArray(to)) return route(...(to as readonly RoutePart[]));
  return route(to as RoutePart);
}
