import { checkAttributes, type Attributes } from '../identity/credential';
import { isIdentifier } from '../identity/identity';

/**
 * The authority protocol (version 1): CBOR maps between an `AuthorityClient` and an `AuthorityService`,
 * always inside a secure channel (the service learns who asks from the channel, never from the request).
 * Every request carries `v: 1` and a `type`; the reply is the request's answer or a typed refusal. Every
 * field is outside input to the authority: `parseAuthorityRequest` bounds it and says what is wrong.
 * See docs/PROTOCOL.md ("Authority").
 */

/** The version of the authority protocol this code speaks. */
export const AUTHORITY_PROTOCOL_VERSION = 1;

/** Why an authority refused a request: a closed list. */
export const AUTHORITY_REFUSAL_CODES = [
  /** The request does not parse (the reason says what is wrong). */
  'INVALID_REQUEST',
  /** The requester is not a member (it may enroll with a ticket). */
  'NOT_MEMBER',
  /** The requester is not an enroller, and the request needs one. */
  'NOT_ENROLLER',
  /** No such ticket, or the secret does not match (the two are not told apart). */
  'BAD_TICKET',
  /** The ticket was used as many times as it allowed. */
  'TICKET_USED',
  /** The ticket has expired. */
  'TICKET_EXPIRED',
  /** A bound of the authority (members, tickets, failed attempts) was reached. */
  'LIMIT_REACHED',
  /** The change could not be made durable (it is kept in memory and retried with the next change). */
  'STORAGE_FAILED',
] as const;

/** See `AUTHORITY_REFUSAL_CODES`. */
export type AuthorityRefusalCode = (typeof AUTHORITY_REFUSAL_CODES)[number];

/** The requests an authority answers. */
export type AuthorityRequest =
  | { readonly v: 1; readonly type: 'credential' }
  | { readonly v: 1; readonly type: 'enroll'; readonly ticket: string }
  | {
      readonly v: 1;
      readonly type: 'add-member';
      readonly identifier: string;
      readonly attributes: Attributes;
    }
  | { readonly v: 1; readonly type: 'remove-member'; readonly identifier: string }
  | {
      readonly v: 1;
      readonly type: 'create-ticket';
      readonly attributes: Attributes;
      readonly ttlMs?: number;
      readonly usageCount?: number;
    }
  | { readonly v: 1; readonly type: 'list-members' };

/** A member as the authority lists it. */
export interface MemberInfo {
  readonly identifier: string;
  readonly attributes: Attributes;
}

/** The replies. */
export type AuthorityReply =
  | { readonly v: 1; readonly type: 'credential'; readonly credential: Uint8Array }
  | { readonly v: 1; readonly type: 'ok' }
  | { readonly v: 1; readonly type: 'ticket'; readonly code: string; readonly expiresAt: number }
  | { readonly v: 1; readonly type: 'members'; readonly members: readonly MemberInfo[] }
  | {
      readonly v: 1;
      readonly type: 'refused';
      readonly code: AuthorityRefusalCode;
      readonly reason: string;
    };

/** A ticket code as it is typed: `<16 hex id>.<32 hex secret>` (the secret has 128 bits). */
export const TICKET_CODE = /^([0-9a-f]{16})\.([0-9a-f]{32})$/;

/** A request parsed, or what is wrong with it. */
export function parseAuthorityRequest(body: unknown): AuthorityRequest | string {
  if (!(body instanceof Object) || Array.isArray(body) || body instanceof Uint8Array) return 'not a map';
  const b = body as Record<string, unknown>;
  if (b.v !== AUTHORITY_PROTOCOL_VERSION) return `protocol version ${String(b.v).slice(0, 16)} (this is 1)`;
  switch (b.type) {
    case 'credential':
    case 'list-members':
      return { v: 1, type: b.type };
    case 'enroll':
      // Any string up to a bound reaches the ticket check (and is counted there as a bad ticket).
      if (typeof b.ticket !== 'string' || b.ticket.length > 128) return 'ticket is a string of at most 128';
      return { v: 1, type: 'enroll', ticket: b.ticket };
    case 'add-member': {
      if (!isIdentifier(b.identifier)) return 'identifier is not an identifier';
      const attributes = attributesOf(b.attributes);
      if (typeof attributes === 'string') return attributes;
      return { v: 1, type: 'add-member', identifier: b.identifier, attributes };
    }
    case 'remove-member':
      if (!isIdentifier(b.identifier)) return 'identifier is not an identifier';
      return { v: 1, type: 'remove-member', identifier: b.identifier };
    case 'create-ticket': {
      const attributes = attributesOf(b.attributes);
      if (typeof attributes === 'string') return attributes;
      if (b.ttlMs !== undefined && !isPositiveInteger(b.ttlMs)) return 'ttlMs is a positive integer';
      if (b.usageCount !== undefined && !isPositiveInteger(b.usageCount))
        return 'usageCount is a positive integer';
      return {
        v: 1,
        type: 'create-ticket',
        attributes,
        ...(b.ttlMs === undefined ? {} : { ttlMs: b.ttlMs as number }),
        ...(b.usageCount === undefined ? {} : { usageCount: b.usageCount as number }),
      };
    }
    default:
      return `unknown request type ${JSON.stringify(String(b.type).slice(0, 32))}`;
  }
}

/** A reply parsed, or undefined if it is not one. */
export function parseAuthorityReply(body: unknown): AuthorityReply | undefined {
  if (!(body instanceof Object) || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  if (b.v !== AUTHORITY_PROTOCOL_VERSION) return undefined;
  switch (b.type) {
    case 'credential':
      return b.credential instanceof Uint8Array
        ? { v: 1, type: 'credential', credential: b.credential }
        : undefined;
    case 'ok':
      return { v: 1, type: 'ok' };
    case 'ticket':
      return typeof b.code === 'string' && typeof b.expiresAt === 'number'
        ? { v: 1, type: 'ticket', code: b.code, expiresAt: b.expiresAt }
        : undefined;
    case 'members': {
      if (!Array.isArray(b.members)) return undefined;
      const members: MemberInfo[] = [];
      for (const member of b.members as unknown[]) {
        const m = member as Record<string, unknown> | null;
        if (typeof m !== 'object' || m === null || !isIdentifier(m.identifier)) return undefined;
        const attributes = attributesOf(m.attributes);
        if (typeof attributes === 'string') return undefined;
        members.push({ identifier: m.identifier, attributes });
      }
      return { v: 1, type: 'members', members };
    }
    case 'refused':
      return AUTHORITY_REFUSAL_CODES.includes(b.code as AuthorityRefusalCode) && typeof b.reason === 'string'
        ? { v: 1, type: 'refused', code: b.code as AuthorityRefusalCode, reason: b.reason.slice(0, 512) }
        : undefined;
    default:
      return undefined;
  }
}

function attributesOf(value: unknown): Attributes | string {
  try {
    return checkAttributes(value ?? {});
  } catch (error) {
    return (error as Error).message;
  }
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}
