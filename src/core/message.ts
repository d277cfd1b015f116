import type { Address } from './address';
import type { Route } from './route';

/**
 * Node-local facts attached to a message by the workers it passed through on this node (for example the
 * authenticated identifier of the secure channel it arrived on). Never encoded, never sent on the wire.
 */
export type LocalInfo = Readonly<Record<string, unknown>>;

/** What a worker's handler receives: the body and the routes it travelled with. */
export interface Routed<T = unknown> {
  /** The decoded body. */
  readonly body: T;
  /** The onward route as it reached this worker: its first hop is the address it arrived on. */
  readonly onwardRoute: Route;
  /** Where replies go. */
  readonly returnRoute: Route;
  /** The address it arrived on (`onwardRoute.next`). */
  readonly address: Address;
  /** The first hop of the return route: whoever will receive a reply first. */
  readonly sender: Address | undefined;
  /** Node-local facts (secure channel identity, transport connection). */
  readonly localInfo: LocalInfo;
  /** The message itself, to forward it on unchanged or with another route. */
  readonly message: LocalMessage;
}

const NO_INFO: LocalInfo = Object.freeze({});

/**
 * A message inside a node. The body stays a JavaScript value: local sends never serialize. It is encoded
 * only when it leaves the node (a transport or a secure channel), as a `TransportMessage`.
 */
export class LocalMessage<T = unknown> implements Routed<T> {
  readonly localInfo: LocalInfo;

  constructor(
    readonly onwardRoute: Route,
    readonly returnRoute: Route,
    readonly body: T,
    localInfo?: LocalInfo,
  ) {
    this.localInfo = localInfo ?? NO_INFO;
  }

  get address(): Address {
    return this.onwardRoute.nextOrThrow();
  }

  get sender(): Address | undefined {
    return this.returnRoute.next;
  }

  get message(): LocalMessage<T> {
    return this;
  }

  /** The same message with the given routes (body and local info kept). */
  withRoutes(onwardRoute: Route, returnRoute: Route): LocalMessage<T> {
    return new LocalMessage(onwardRoute, returnRoute, this.body, this.localInfo);
  }

  /** The same message with another body (routes and local info kept). */
  withBody<U>(body: U): LocalMessage<U> {
    return new LocalMessage(this.onwardRoute, this.returnRoute, body, this.localInfo);
  }

  /** The same message with extra local info merged in. */
  withLocalInfo(extra: LocalInfo): LocalMessage<T> {
    return new LocalMessage(this.onwardRoute, this.returnRoute, this.body, { ...this.localInfo, ...extra });
  }
}

/** A message as it crosses a transport: routes plus an already encoded body. See docs/PROTOCOL.md. */
export interface TransportMessage {
  readonly onwardRoute: Route;
  readonly returnRoute: Route;
  /** The body, encoded by `encodeBody`. */
  readonly payload: Uint8Array;
  /**
   * A W3C trace context (`traceparent`) the message carries, if any (wire version 2, docs/PROTOCOL.md): the
   * `TRACE_INFO` of the message it was encoded from.
   */
  readonly trace?: string;
}

/**
 * The `localInfo` key of a message's trace context: a W3C `traceparent` string. Unlike every other local
 * fact it travels: a transport writes it into the frame (plain, beside the routes) and a secure channel
 * into the encrypted message, so the next node puts it back. A node with `tracing` on sets it on what its
 * workers send and opens a span for each message that carries one (node/tracing.ts).
 */
export const TRACE_INFO = 'traceparent';

/** A W3C `traceparent` of version 00 with non-zero ids (what `TRACE_INFO` holds; anything else is dropped). */
const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Whether `value` is a trace context a message may carry. */
export function isTraceparent(value: unknown): value is string {
  return typeof value === 'string' && TRACEPARENT.test(value);
}

/** The trace context a message carries, if any. */
export function traceOf(message: { readonly localInfo: LocalInfo }): string | undefined {
  const value = message.localInfo[TRACE_INFO];
  return isTraceparent(value) ? value : undefined;
}

/**
 * The `localInfo` key a transport sets on every message it receives from a connection (its value describes
 * the connection). Workers that did not opt in to transport messages refuse messages that carry it.
 */
export const TRANSPORT_INFO = 'transport';

/**
 * Whether a message arrived straight from a transport connection (it carries `TRANSPORT_INFO`): the one
 * transport-origin check, for every receiver that refuses such messages unless it opted in.
 */
export function cameFromTransport(message: { readonly localInfo: LocalInfo }): boolean {
  return message.localInfo[TRANSPORT_INFO] !== undefined;
}

/**
 * The `localInfo` key of a message's origin (a `MessageOrigin`): the path by which it came into this node
 * from outside. A message created on this node has none; a transport sets it on every message it receives,
 * and a secure channel's decryptor extends the origin of the frames it decrypts. It is kept when a worker
 * forwards the message on (`withRoutes`), so whatever the message reaches next can tell where it came from.
 */
export const ORIGIN_INFO = 'origin';

/**
 * One producer on the path a message came by: a transport connection (`kind: 'transport'`) or a secure
 * channel (`kind: 'channel'`).
 */
export interface OriginHop {
  readonly kind: 'transport' | 'channel';
  /**
   * The producer's local address: the connection's worker, or the channel's encryptor. It is also the first
   * hop of the message's return route there, so a reply goes back the way the message came.
   */
  readonly producer: Address;
  /** What the producer knows of its peer (`TcpTransportInfo`, `SecureChannelInfo`). */
  readonly info: unknown;
}

/**
 * The path, oldest first, by which a message came into this node: the connection it arrived on, then each
 * secure channel that decrypted it (a channel inside a channel adds two). Immutable; the message's last
 * producer decides where it may go on (see `FlowControls`).
 */
export class MessageOrigin {
  /** The most recent producer: the one whose output the message is. */
  readonly last: OriginHop;

  private constructor(readonly hops: readonly OriginHop[]) {
    this.last = hops[hops.length - 1]!;
  }

  /** An origin of one hop. */
  static of(hop: OriginHop): MessageOrigin {
    return new MessageOrigin([hop]);
  }

  /** This path with `hop` appended (the producer the message came out of next). */
  then(hop: OriginHop): MessageOrigin {
    return new MessageOrigin([...this.hops, hop]);
  }

  /** `kind:producer` for each hop, joined by ` > `. */
  toString(): string {
    return this.hops.map((hop) => `${hop.kind}:${hop.producer.key}`).join(' > ');
  }
}

/** The origin of a message: undefined for one created on this node. */
export function originOf(message: { readonly localInfo: LocalInfo }): MessageOrigin | undefined {
  return message.localInfo[ORIGIN_INFO] as MessageOrigin | undefined;
}

/**
 * What a transport's entry in `localInfo[TRANSPORT_INFO]` offers the workers above it, whatever the
 * transport.
 */
export interface TransportOrigin {
  /** The local address of the connection the message came in on. */
  readonly connection: Address;
  /**
   * Tells the transport that the connection is in real use: a forwarder was registered through it, or a
   * secure channel handshake completed over it. An accepted connection that nobody vouches for is closed
   * after a short timeout, and is the first evicted to admit a newcomer when its listener is full.
   */
  vouch(): void;
  /** Whether the connection was vouched for (outgoing connections always are). */
  readonly isVouched: boolean;
}

/** Vouches for the connection `message` came in on (see `TransportOrigin.vouch`); nothing if it is local. */
export function vouchForOrigin(message: { readonly localInfo: LocalInfo }): void {
  const origin = message.localInfo[TRANSPORT_INFO] as Partial<TransportOrigin> | undefined;
  origin?.vouch?.();
}
