import { codecs } from '../core/codec';

/**
 * The forwarding protocol: CBOR objects between a `RemoteForwarder` and a `ForwardingService`. Every
 * request carries a random `nonce` that its reply repeats; the client matches replies by it, so a
 * forwarded message cannot pass for a reply.
 */

/** Asks for a forwarder: a named one (`fwd.<name>`), or one at a random address. */
export interface RegisterRequest {
  readonly type: 'register';
  readonly nonce: string;
  /** A name to be reachable at; absent for a random address. */
  readonly name?: string;
  /** The token the first registration of `name` returned; required to take a held name back. */
  readonly token?: string;
  /**
   * Without a name: the address of the client's previous forwarder. If it still exists and `token`
   * matches, it is moved to the new route instead of a new one being made.
   */
  readonly address?: string;
}

/** Asks whether the forwarder at `address` is alive and still forwards along the asker's route. */
export interface PingRequest {
  readonly type: 'ping';
  readonly nonce: string;
  readonly address: string;
}

/** Removes the forwarder at `address` (the registration's token is required). */
export interface UnregisterRequest {
  readonly type: 'unregister';
  readonly nonce: string;
  readonly address: string;
  readonly token: string;
}

/** What a forwarding service accepts. */
export type ForwardingRequest = RegisterRequest | PingRequest | UnregisterRequest;

/** A registration succeeded. */
export interface RegisteredReply {
  readonly type: 'registered';
  readonly nonce: string;
  /** The forwarder's local address on the hub. */
  readonly address: string;
  /** Proof of ownership: keep it to take the name back or to unregister. */
  readonly token: string;
}

/** The answer to a ping. */
export interface PongReply {
  readonly type: 'pong';
  readonly nonce: string;
  readonly alive: boolean;
}

/** A request was refused. */
export interface RefusedReply {
  readonly type: 'refused';
  readonly nonce: string;
  readonly code: 'NAME_TAKEN' | 'INVALID_NAME' | 'LIMIT_REACHED' | 'NOT_FOUND';
  readonly reason: string;
}

/** An unregistration succeeded. */
export interface UnregisteredReply {
  readonly type: 'unregistered';
  readonly nonce: string;
}

/** What a forwarding service answers. */
export type ForwardingReply = RegisteredReply | PongReply | RefusedReply | UnregisteredReply;

/** Names of named forwarders: short, printable, no dots (the service prefixes them with `fwd.`). */
export const FORWARDER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const NONCE = /^[0-9a-f]{32}$/;
const MAX_TEXT = 256;

function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_TEXT;
}

function optionalText(value: unknown): boolean {
  return value === undefined || isText(value);
}

function isForwardingRequest(value: unknown): value is ForwardingRequest {
  if (!isRecord(value) || typeof value.nonce !== 'string' || !NONCE.test(value.nonce)) return false;
  switch (value.type) {
    case 'register':
      return optionalText(value.name) && optionalText(value.token) && optionalText(value.address);
    case 'ping':
      return isText(value.address);
    case 'unregister':
      return isText(value.address) && isText(value.token);
    default:
      return false;
  }
}

function isForwardingReply(value: unknown): value is ForwardingReply {
  if (!isRecord(value) || typeof value.nonce !== 'string' || !NONCE.test(value.nonce)) return false;
  switch (value.type) {
    case 'registered':
      return isText(value.address) && isText(value.token);
    case 'pong':
      return typeof value.alive === 'boolean';
    case 'refused':
      return typeof value.code === 'string' && typeof value.reason === 'string';
    case 'unregistered':
      return true;
    default:
      return false;
  }
}

/** The codec of forwarding requests (checked shape). */
export const forwardingRequestCodec = codecs.structured('forwarding request', isForwardingRequest);
/** The codec of forwarding replies (checked shape). */
export const forwardingReplyCodec = codecs.structured('forwarding reply', isForwardingReply);
