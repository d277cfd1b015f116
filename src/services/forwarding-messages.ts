import { codecs } from '../core/codec';

/**
 * The forwarding protocol (version 2): CBOR maps between a `RemoteForwarder` and a `ForwardingService`.
 * Every request carries `v: 2` and a random `nonce` that its reply repeats; the client matches replies by
 * it, so a forwarded message cannot pass for a reply. Everything in a request is outside input to the hub:
 * `parseForwardingRequest` bounds every field in bytes and says what is wrong, so the registrant gets a
 * typed refusal instead of silence. See docs/PROTOCOL.md.
 */

/** The version of the forwarding protocol this code speaks. */
export const FORWARDING_PROTOCOL_VERSION = 2;

/** Address prefix of forwarders at random addresses: `fwd.r.<32 hex>`. */
export const RANDOM_PREFIX = 'fwd.r.';
/** Address prefix of named forwarders: `fwd.n.<name>`. The two namespaces never overlap. */
export const NAMED_PREFIX = 'fwd.n.';

/**
 * Names of named forwarders: 1..63 bytes of lower-case ASCII letters, digits, `_` and `-`, starting with a
 * letter or a digit. Lower case only, so that two names never differ by case alone.
 */
export const FORWARDER_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** A random forwarder's address. */
export const RANDOM_ADDRESS = /^fwd\.r\.[0-9a-f]{32}$/;

/** The proof that the holder of an Ed25519 identity key claims a name (see `nameClaimStatement`). */
export interface NameClaim {
  /** The challenge the hub issued (32 hex digits), single use. */
  readonly challenge: string;
  /** The identity's Ed25519 public key (32 bytes). */
  readonly key: Uint8Array;
  /** Ed25519 signature (64 bytes) by `key` over `nameClaimStatement(hub, challenge, name, key)`. */
  readonly sig: Uint8Array;
}

/** Asks for a fresh, single-use challenge to sign for an identity-bound registration. */
export interface ChallengeRequest {
  readonly v: 2;
  readonly type: 'challenge';
  readonly nonce: string;
}

/**
 * Asks for a forwarder: a named one (`fwd.n.<name>`), or one at a random address (`fwd.r.<hex>`). A named
 * registration with a `claim` binds the name to the claiming identity (or takes back a name bound to it).
 */
export interface RegisterRequest {
  readonly v: 2;
  readonly type: 'register';
  readonly nonce: string;
  /** A name to be reachable at; absent for a random address. */
  readonly name?: string;
  /** The token an earlier registration returned: takes back an unbound name, or re-attaches `address`. */
  readonly token?: string;
  /** Without a name: the client's previous random address, to re-attach to (with `token`). */
  readonly address?: string;
  /** With a name: the identity's proof (binds the name, or takes back a name bound to this identity). */
  readonly claim?: NameClaim;
  /**
   * With a claim: a credential about the claiming identity, for a hub that admits registrations by
   * credential (`ForwardingServiceOptions.admit`, say `relayAdmission`). At most `MAX_REGISTRATION_CREDENTIAL` bytes.
   */
  readonly credential?: Uint8Array;
}

/** The largest credential a registration may carry. */
export const MAX_REGISTRATION_CREDENTIAL = 4096;

/** Asks whether the forwarder at `address` is alive and still forwards along the asker's route. */
export interface PingRequest {
  readonly v: 2;
  readonly type: 'ping';
  readonly nonce: string;
  readonly address: string;
}

/**
 * Removes the forwarder at `address` (the registration's token is required) and frees its name or address;
 * a name bound to an identity stays reserved for it unless `forget` is true.
 */
export interface UnregisterRequest {
  readonly v: 2;
  readonly type: 'unregister';
  readonly nonce: string;
  readonly address: string;
  readonly token: string;
  readonly forget?: boolean;
}

/** What a forwarding service accepts. */
export type ForwardingRequest = ChallengeRequest | RegisterRequest | PingRequest | UnregisterRequest;

/** A challenge to sign. */
export interface ChallengeReply {
  readonly type: 'challenge';
  readonly nonce: string;
  /** 32 hex digits, valid once, for a short time, and only on the connection that asked for it. */
  readonly challenge: string;
  /** The hub's instance identifier (32 hex digits), signed along with the challenge. */
  readonly hub: string;
}

/** A registration succeeded. */
export interface RegisteredReply {
  readonly type: 'registered';
  readonly nonce: string;
  /** The forwarder's local address on the hub. */
  readonly address: string;
  /** Proof of ownership: keep it to take the name or address back, or to unregister. */
  readonly token: string;
  /** The identifier the name is bound to, if it is bound. */
  readonly owner?: string;
}

/** The answer to a ping. */
export interface PongReply {
  readonly type: 'pong';
  readonly nonce: string;
  readonly alive: boolean;
}

/** Every reason a request may be refused for (a closed set: a reply naming another is malformed). */
export const REFUSAL_CODES = [
  'NAME_TAKEN',
  'INVALID_NAME',
  'INVALID_REQUEST',
  'BAD_PROOF',
  'LIMIT_REACHED',
  'NOT_FOUND',
  'UNSUPPORTED_VERSION',
  'NOT_AUTHORIZED',
] as const;

/** Why a request was refused. */
export type RefusalCode = (typeof REFUSAL_CODES)[number];

const REFUSAL_CODE_SET: ReadonlySet<string> = new Set(REFUSAL_CODES);

/** A request was refused. */
export interface RefusedReply {
  readonly type: 'refused';
  readonly nonce: string;
  readonly code: RefusalCode;
  readonly reason: string;
}

/** An unregistration succeeded. */
export interface UnregisteredReply {
  readonly type: 'unregistered';
  readonly nonce: string;
}

/** What a forwarding service answers. */
export type ForwardingReply = ChallengeReply | RegisteredReply | PongReply | RefusedReply | UnregisteredReply;

/** Domain separation of the statement an identity signs to claim a forwarder name (never reused). */
const CLAIM_DOMAIN = new TextEncoder().encode('sealroute/forwarder-name-claim/v2\0');

/**
 * The statement an identity signs to claim `name` at one hub, once:
 * `domain || hub (16 bytes) || challenge (16 bytes) || len(name):u8 || name || key (32 bytes)`.
 * The hub's instance id and its fresh single-use challenge (bound at the hub to the connection that asked
 * for it) make a signature good for this one registration only; it cannot be replayed at any hub.
 */
export function nameClaimStatement(
  hub: string,
  challenge: string,
  name: string,
  key: Uint8Array,
): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  const parts = [
    CLAIM_DOMAIN,
    hexBytes(hub),
    hexBytes(challenge),
    Uint8Array.of(nameBytes.length),
    nameBytes,
    key,
  ];
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

const HEX32 = /^[0-9a-f]{32}$/;
const MAX_TEXT = 256;
const MAX_ADDRESS = NAMED_PREFIX.length + 63;

function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function isText(value: unknown, max = MAX_TEXT): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

function isBytes(value: unknown, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === length;
}

/** A request that could not be accepted as it is: the refusal to answer with, if it can be answered. */
export interface BadRequest {
  readonly nonce: string | undefined;
  readonly code: RefusalCode;
  readonly reason: string;
}

/**
 * Checks a request from outside field by field (every field bounded in bytes): the request, or why not.
 * A bad request with a well-formed nonce can be answered; one without is dropped (and counted) by the hub.
 */
export function parseForwardingRequest(value: unknown): ForwardingRequest | BadRequest {
  if (!isRecord(value)) return { nonce: undefined, code: 'INVALID_REQUEST', reason: 'not a CBOR map' };
  const nonce = typeof value.nonce === 'string' && HEX32.test(value.nonce) ? value.nonce : undefined;
  const bad = (code: RefusalCode, reason: string): BadRequest => ({ nonce, code, reason });
  if (nonce === undefined) return bad('INVALID_REQUEST', 'nonce must be 32 hex digits');
  if (value.v !== FORWARDING_PROTOCOL_VERSION) {
    return bad('UNSUPPORTED_VERSION', `this hub speaks forwarding protocol v${FORWARDING_PROTOCOL_VERSION}`);
  }
  switch (value.type) {
    case 'challenge':
      return { v: 2, type: 'challenge', nonce };
    case 'register': {
      const { name, token, address, claim, credential } = value;
      if (
        credential !== undefined &&
        !(credential instanceof Uint8Array && credential.length <= MAX_REGISTRATION_CREDENTIAL)
      ) {
        return bad('INVALID_REQUEST', `credential must be at most ${MAX_REGISTRATION_CREDENTIAL} bytes`);
      }
      if (name !== undefined && !(typeof name === 'string' && FORWARDER_NAME.test(name))) {
        return bad('INVALID_NAME', 'names are 1..63 of a-z 0-9 _ -, starting with a letter or digit');
      }
      if (token !== undefined && !(typeof token === 'string' && HEX32.test(token))) {
        return bad('INVALID_REQUEST', 'token must be 32 hex digits');
      }
      if (address !== undefined && !(typeof address === 'string' && RANDOM_ADDRESS.test(address))) {
        return bad('INVALID_REQUEST', 'address must be a random forwarder address (fwd.r.<32 hex>)');
      }
      if (address !== undefined && name !== undefined)
        return bad('INVALID_REQUEST', 'name and address together');
      let parsedClaim: NameClaim | undefined;
      if (claim !== undefined) {
        if (name === undefined) return bad('INVALID_REQUEST', 'a claim needs a name');
        if (
          !isRecord(claim) ||
          !(typeof claim.challenge === 'string' && HEX32.test(claim.challenge)) ||
          !isBytes(claim.key, 32) ||
          !isBytes(claim.sig, 64)
        ) {
          return bad('INVALID_REQUEST', 'claim must be { challenge: 32 hex, key: 32 bytes, sig: 64 bytes }');
        }
        parsedClaim = { challenge: claim.challenge, key: claim.key, sig: claim.sig };
      }
      return {
        v: 2,
        type: 'register',
        nonce,
        ...(name === undefined ? {} : { name }),
        ...(token === undefined ? {} : { token }),
        ...(address === undefined ? {} : { address }),
        ...(parsedClaim === undefined ? {} : { claim: parsedClaim }),
        ...(credential === undefined ? {} : { credential }),
      } as RegisterRequest;
    }
    case 'ping':
      if (!isText(value.address, MAX_ADDRESS)) return bad('INVALID_REQUEST', 'ping needs an address');
      return { v: 2, type: 'ping', nonce, address: value.address };
    case 'unregister':
      if (
        !isText(value.address, MAX_ADDRESS) ||
        !(typeof value.token === 'string' && HEX32.test(value.token))
      ) {
        return bad('INVALID_REQUEST', 'unregister needs an address and a 32-hex token');
      }
      if (value.forget !== undefined && typeof value.forget !== 'boolean') {
        return bad('INVALID_REQUEST', 'forget must be a boolean');
      }
      return {
        v: 2,
        type: 'unregister',
        nonce,
        address: value.address,
        token: value.token,
        forget: value.forget === true,
      };
    default:
      return bad('INVALID_REQUEST', 'unknown request type');
  }
}

/** True for a parsed request (as opposed to a `BadRequest`). */
export function isRequest(parsed: ForwardingRequest | BadRequest): parsed is ForwardingRequest {
  return 'type' in parsed;
}

function isForwardingReply(value: unknown): value is ForwardingReply {
  if (!isRecord(value) || typeof value.nonce !== 'string' || !HEX32.test(value.nonce)) return false;
  switch (value.type) {
    case 'challenge':
      return (
        typeof value.challenge === 'string' &&
        HEX32.test(value.challenge) &&
        isText(value.hub) &&
        HEX32.test(value.hub)
      );
    case 'registered':
      return (
        isText(value.address) && isText(value.token) && (value.owner === undefined || isText(value.owner))
      );
    case 'pong':
      return typeof value.alive === 'boolean';
    case 'refused':
      return typeof value.code === 'string' && REFUSAL_CODE_SET.has(value.code) && isText(value.reason, 1024);
    case 'unregistered':
      return true;
    default:
      return false;
  }
}

function isWellFormedRequest(value: unknown): value is ForwardingRequest {
  const parsed = parseForwardingRequest(value);
  return isRequest(parsed);
}

/** The codec of forwarding requests (checked shape). The hub itself decodes any CBOR and parses it. */
export const forwardingRequestCodec = codecs.structured('forwarding request', isWellFormedRequest);
/** The codec of forwarding replies (checked shape). */
export const forwardingReplyCodec = codecs.structured('forwarding reply', isForwardingReply);
