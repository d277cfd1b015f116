import { AddressError } from './errors';

/** The transport type of an address: which router resolves it. Local addresses are type 0. */
export type AddressType = number;

/** Address type of a worker on this node. */
export const LOCAL: AddressType = 0;
/** Address type of a TCP hop (`host:port`). */
export const TCP: AddressType = 1;

const typeNames = new Map<AddressType, string>([
  [LOCAL, 'LOCAL'],
  [TCP, 'TCP'],
]);

/**
 * Registers a further address type (a new transport), so that it prints and parses. Types are 0..65535;
 * registering the same type twice with another name is an error.
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
  /** Cached text form: addresses are map keys on every hop, so this is computed once. */
  readonly key: string;
  /**
   * The value's UTF-8 length, worked out once (-1 until asked): routes are encoded on every hop, and an
   * address whose length equals its value's length is ASCII, which the wire encoder copies without a call
   * into the UTF-8 encoder. Set up front by the wire decoder, which knows it from the bytes it read.
   */
  private utf8Length = -1;

  constructor(
    readonly type: AddressType,
    readonly value: string,
  ) {
    if (!Number.isInteger(type) || type < 0 || type > 0xffff) {
      throw new AddressError('INVALID_ADDRESS', `address type must be an integer in 0..65535, got ${type}`);
    }
    if (value.length === 0) {
      throw new AddressError('INVALID_ADDRESS', 'address value must not be empty');
    }
    this.key = `${type}#${value}`;
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
   * Parses `type#value` (`0#echoer`, `1#127.0.0.1:4000`); a string without `#` is a local address.
   */
  static parse(text: string): Address {
    const hash = text.indexOf('#');
    if (hash < 0) return new Address(LOCAL, text);
    const typeText = text.slice(0, hash);
    if (!/^\d{1,5}$/.test(typeText)) {
      throw new AddressError('INVALID_ADDRESS', `invalid address type in ${JSON.stringify(text)}`);
    }
    return new Address(Number(typeText), text.slice(hash + 1));
  }

  /**
   * A fresh local address unique within this process (a per-process random salt plus a counter), for
   * temporary and per-connection workers. Cheap, not secret: use `crypto.randomBytes` for capabilities.
   */
  static unique(prefix = ''): Address {
    return new Address(LOCAL, uniqueName(prefix));
  }

  get isLocal(): boolean {
    return this.type === LOCAL;
  }

  equals(other: Address): boolean {
    return this.key === other.key;
  }

  toString(): string {
    return this.key;
  }

  toJSON(): string {
    return this.key;
  }
}

let counter = 0;
// A per-process salt, so that a restarted process does not reuse the addresses a late reply may still seek.
const processSalt = Math.floor(Math.random() * 36 ** 4)
  .toString(36)
  .padStart(4, '0');

/** A local address value unique within the process; short, because these strings are hashed on every hop. */
export function uniqueName(prefix = ''): string {
  return prefix + processSalt + (++counter).toString(36);
}
