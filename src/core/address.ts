import { AddressError } from './errors';

/** The transport type of an address: which router resolves it. Local addresses are type 0. */
export type AddressType = number;

/** Address type of a worker on this node. */
export const LOCAL: AddressType = 0;
/** Address type of a TCP hop (`host:port`). */
export const TCP: AddressType = 1;
/** Address type of a WebSocket hop (`host:port/path`, reached as `ws://host:port/path`). */
export const WS: AddressType = 2;
/** Address type of a WebSocket hop over TLS (`host:port/path`, reached as `wss://host:port/path`). */
export const WSS: AddressType = 3;
/** Address type of a NATS hop (a subject, `nats#sealroute.node.bob`): the node subscribed to it. */
export const NATS: AddressType = 4;

const typeNames = new Map<AddressType, string>([
  [LOCAL, 'LOCAL'],
  [TCP, 'TCP'],
  [WS, 'WS'],
  [WSS, 'WSS'],
  [NATS, 'NATS'],
]);

/** The type registered under `name` (any case), or undefined. */
function typeNamed(name: string): AddressType | undefined {
  const upper = name.toUpperCase();
  for (const [type, registered] of typeNames) if (registered.toUpperCase() === upper) return type;
  return undefined;
}

/**
 * Names a further address type (a new transport) for messages and errors (`addressTypeName`). Parsing and
 * printing need no registration: an address is `type#value` with the type as a number 0..65535, registered
 * or not. Registering the same type again under another name throws `AddressError` `INVALID_ADDRESS`.
 */
export function registerAddressType(type: AddressType, name: string): void {
  if (!Number.isInteger(type) || type < 0 || type > 0xffff) {
    throw new AddressError('INVALID_ADDRESS', `address type must be an integer in 0..65535, got ${type}`);
  }
  const existing = typeNames.get(type);
  if (existing !== undefined && existing !== name) {
    throw new AddressError('INVALID_ADDRESS', `address type ${type} is already registered as ${existing}`);
  }
  typeNames.set(type, name);
}

/** The registered name of an address type, or undefined. */
export function addressTypeName(type: AddressType): string | undefined {
  return typeNames.get(type);
}

/**
 * One hop of a route: a transport type and a value meaningful to that transport (a worker name for LOCAL,
 * `host:port` for TCP). Immutable; printed and parsed as `0#echoer`, `1#127.0.0.1:4000`.
 */
export class Address {
  /** The text form, worked out at its first read: addresses are map keys on every hop, so only once. */
  #key: string | undefined;
  /**
   * The value. Undefined only in a lazy address (a reply address) until it is first read: `draw` makes it
   * then, so an address that never leaves its node never pays for its random part. A plain field (not a
   * `#` one), so that structural comparisons (`toEqual`, `deepStrictEqual`) still tell addresses apart.
   */
  protected text: string | undefined;
  /**
   * The value's UTF-8 length, worked out once (-1 until asked): routes are encoded on every hop, and an
   * address whose length equals its value's length is ASCII, which the wire encoder copies without a call
   * into the UTF-8 encoder. Set up front by the wire decoder, which knows it from the bytes it read.
   */
  private utf8Length = -1;

  constructor(
    readonly type: AddressType,
    value: string,
  ) {
    if (!Number.isInteger(type) || type < 0 || type > 0xffff) {
      throw new AddressError('INVALID_ADDRESS', `address type must be an integer in 0..65535, got ${type}`);
    }
    if (value.length === 0) {
      throw new AddressError('INVALID_ADDRESS', 'address value must not be empty');
    }
    this.text = value;
  }

  /** The value, meaningful to the address's transport: a worker name for LOCAL, `host:port` for TCP. */
  get value(): string {
    return this.text ?? (this.text = this.draw());
  }

  /** The text form `type#value` (`0#echoer`): the address's identity, as a map key and in `equals`. */
  get key(): string {
    return this.#key ?? (this.#key = `${this.type}#${this.value}`);
  }

  /**
   * @internal Makes a lazy address's value at its first read (see `text`). Only a subclass that leaves
   * `text` undefined is ever asked; it must return the same kind of value every time it could be asked.
   */
  protected draw(): string {
    throw new AddressError('INVALID_ADDRESS', 'this address has no value');
  }

  /** @internal The UTF-8 length of `value` in bytes (cached). */
  get byteLength(): number {
    if (this.utf8Length < 0) this.utf8Length = Buffer.byteLength(this.value, 'utf8');
    return this.utf8Length;
  }

  /** @internal An address decoded from `byteLength` bytes of UTF-8 (the wire decoder's constructor). */
  static decoded(type: AddressType, value: string, byteLength: number): Address {
    const address = new Address(type, value);
    address.utf8Length = byteLength;
    return address;
  }

  /** A local (same-node) address. */
  static local(value: string): Address {
    return new Address(LOCAL, value);
  }

  /**
   * Parses `type#value` (`0#echoer`, `1#127.0.0.1:4000`), the type a number or a registered name (`tcp#...`,
   * `ws#127.0.0.1:4000/sealroute`); a string without `#` is a local address.
   */
  static parse(text: string): Address {
    const hash = text.indexOf('#');
    if (hash < 0) return new Address(LOCAL, text);
    const typeText = text.slice(0, hash);
    const type = /^\d{1,5}$/.test(typeText) ? Number(typeText) : typeNamed(typeText);
    if (type === undefined) {
      throw new AddressError('INVALID_ADDRESS', `invalid address type in ${JSON.stringify(text)}`);
    }
    return new Address(type, text.slice(hash + 1));
  }

  /**
   * A fresh local address with 96 bits of CSPRNG randomness after `prefix` (`sc.r.` + 16 base64url
   * characters), for per-connection, per-channel and other run-time workers. Unguessable, so that seeing one
   * address tells nothing about the next: knowing an address still grants only what access rules allow.
   */
  static unique(prefix = ''): Address {
    return new Address(LOCAL, uniqueName(prefix));
  }

  get isLocal(): boolean {
    return this.type === LOCAL;
  }

  equals(other: Address): boolean {
    return this === other || this.key === other.key;
  }

  toString(): string {
    return this.key;
  }

  toJSON(): string {
    return this.key;
  }
}

/** Random bytes per run-time address: 96 bits, 16 base64url characters. */
export const UNIQUE_RANDOM_BYTES = 12;
// Drawn from the CSPRNG in batches and sliced: one system call per 256 addresses keeps `Address.unique`
// (one per request's reply slot, per channel, per connection) as cheap as the counter it replaced.
const POOL_SIZE = UNIQUE_RANDOM_BYTES * 256;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

/**
 * `UNIQUE_RANDOM_BYTES` fresh random bytes from the CSPRNG, as 16 base64url characters (no padding). Each
 * slice of the pool is handed out once.
 */
export function randomToken(): string {
  if (poolOffset === POOL_SIZE) {
    crypto.getRandomValues(pool); // the Web Crypto CSPRNG: in Node and in browsers alike
    poolOffset = 0;
  }
  const start = poolOffset;
  poolOffset += UNIQUE_RANDOM_BYTES;
  return pool.toString('base64url', start, poolOffset);
}

// Tokens for short-lived addresses (one per request: reply slots) come out of a batch already in base64url:
// slicing a string costs as little as the counter these replaced, where encoding 12 bytes each time tripled
// the cost of a local round trip's address. A slice keeps its batch (4 KiB per 256 tokens) alive while it
// lives, which is why long-lived addresses use `randomToken`.
const batchBytes = Buffer.allocUnsafe(POOL_SIZE);
let batch = '';
let batchOffset = 0;
const TOKEN_LENGTH = (UNIQUE_RANDOM_BYTES / 3) * 4;

/**
 * Like `randomToken` (96 fresh CSPRNG bits as 16 base64url characters), cheaper, for addresses that live
 * for one request: the result may keep a 4 KiB batch in memory as long as it is referenced.
 */
export function shortLivedRandomToken(): string {
  if (batchOffset === batch.length) {
    crypto.getRandomValues(batchBytes);
    batch = batchBytes.toString('base64url');
    batchOffset = 0;
  }
  const start = batchOffset;
  batchOffset += TOKEN_LENGTH;
  return batch.slice(start, batchOffset);
}

/** A local address value: `prefix` followed by 96 random bits (see `randomToken`). */
export function uniqueName(prefix = ''): string {
  return prefix + randomToken();
}
