import { readFileSync, statSync } from 'node:fs';
import type { Authority } from './credential';
import { IdentityError } from './errors';
import { Sha256 } from '../crypto/sha256';
import { parseIdentifier, type Identity } from './identity';
import type { PeerCredentials } from './peer-credentials';
import { parsePolicy, type PolicyExpression } from './policy-expression';

/** What a trust policy is asked about: the authenticated peer of a handshake. */
export interface PeerIdentity {
  /** The peer's printable identifier (`I…`). */
  readonly identifier: string;
  /** The peer's Ed25519 identity public key. */
  readonly publicKey: Uint8Array;
  /**
   * The credentials it presented in the handshake that verified against the channel's trusted authorities
   * (kept current by refresh frames); absent when it presented none.
   */
  readonly credentials?: PeerCredentials;
}

/**
 * Decides whom to talk to. Asked once per handshake, after the peer proved its identity; also usable as an
 * access rule through `fromSecureChannel(policy)`.
 */
export interface TrustPolicy {
  /** Shown in logs and errors. */
  readonly name: string;
  check(peer: PeerIdentity): boolean | Promise<boolean>;
  /**
   * Authorities whose credentials the policy relies on: a channel verifies the credentials a peer presents
   * against these (besides its own `authorities` option) before asking `check`.
   */
  readonly authorities?: readonly Authority[];
  /**
   * Whether the policy trusts a peer only for its credentials: a channel whose policy does is closed when
   * the peer's credentials expire without a refresh.
   */
  readonly needsCredentials?: boolean;
}

/**
 * Trusts anyone, including an anonymous NK initiator: for tests and demos. The channel is still encrypted,
 * but neither side knows whom it talks to, so it protects only against passive observers: an active
 * intermediary (a hostile hub) can run its own listener in the middle and read and rewrite everything. A
 * listener or channel that uses it logs a warning once per node. An initiator should trust exactly the
 * identifier it means to reach (`TrustIdentifier`, or a `ForwardingAddress`'s); a public listener that
 * admits any authenticated peer says so with `TrustAnyIdentity`.
 */
export const TrustEveryone: TrustPolicy = { name: 'TrustEveryone', check: () => true };

/**
 * Trusts any peer that proves an identity (never an anonymous NK initiator): the choice of a public service,
 * such as the story's echoer, whose listener accepts everyone but still learns, and passes on to access
 * rules, who each peer is. An initiator should not use it: it would accept whoever answers (see
 * `TrustEveryone`).
 */
export const TrustAnyIdentity: TrustPolicy = { name: 'TrustAnyIdentity', check: () => true };

/** Trusts exactly the given identifiers. */
export function TrustIdentifier(...identifiers: readonly string[]): TrustPolicy {
  const allowed = new Set(identifiers);
  return {
    name: `TrustIdentifier(${identifiers.join(', ')})`,
    check: (peer) => allowed.has(peer.identifier),
  };
}

/** Trusts a peer that at least one of `policies` trusts. */
export function anyOf(...policies: readonly TrustPolicy[]): TrustPolicy {
  return {
    name: `anyOf(${policies.map((p) => p.name).join(', ')})`,
    ...credentialNeeds(policies, 'every'),
    check: async (peer) => {
      for (const policy of policies) if (await policy.check(peer)) return true;
      return false;
    },
  };
}

/** Trusts a peer that every one of `policies` trusts. */
export function allOf(...policies: readonly TrustPolicy[]): TrustPolicy {
  return {
    name: `allOf(${policies.map((p) => p.name).join(', ')})`,
    ...credentialNeeds(policies, 'some'),
    check: async (peer) => {
      for (const policy of policies) if (!(await policy.check(peer))) return false;
      return true;
    },
  };
}

/** The authorities of `policies`, and whether their combination needs credentials. */
function credentialNeeds(
  policies: readonly TrustPolicy[],
  combine: 'every' | 'some',
): Pick<TrustPolicy, 'authorities' | 'needsCredentials'> {
  const authorities = policies.flatMap((policy) => policy.authorities ?? []);
  const needs = policies[combine]((policy) => policy.needsCredentials === true);
  return { ...(authorities.length > 0 ? { authorities } : {}), ...(needs ? { needsCredentials: true } : {}) };
}

/** What `TrustCredential` is told. */
export interface TrustCredentialOptions {
  /** The authority whose credentials count: its identity, its public key (bytes or 64 hex digits). */
  readonly authority: Identity | Authority | Uint8Array | string;
  /** Attributes the credential must give, each with exactly this value (`'*'` is a literal value here). */
  readonly attributes?: Readonly<Record<string, string>>;
  /** A policy expression (see `parsePolicy`) the subject's attributes must satisfy, parsed once here. */
  readonly policy?: string;
}

/**
 * Trusts a peer that presented, in the handshake, a valid credential from `authority` whose attributes
 * include `attributes` (and satisfy `policy`). The channel verifies the credential (signature, subject,
 * validity with clock skew) before asking; the policy looks only at credentials still valid now. A channel
 * with this policy closes when the peer's credentials expire without a refresh.
 */
export function TrustCredential(options: TrustCredentialOptions): TrustPolicy {
  const authority = authorityOf(options.authority);
  const wanted = Object.entries(options.attributes ?? {});
  const policy: PolicyExpression | undefined =
    options.policy === undefined ? undefined : parsePolicy(options.policy);
  const shown = [
    `authority=${authority.identifier}`,
    ...wanted.map(([key, value]) => `${key}=${value}`),
    ...(policy === undefined ? [] : [policy.source]),
  ].join(', ');
  return {
    name: `TrustCredential(${shown})`,
    authorities: [authority],
    needsCredentials: true,
    check: (peer) => {
      if (peer.credentials === undefined) return false;
      const attributes = peer.credentials.attributes(Date.now(), authority.identifier);
      for (const [key, value] of wanted) if (attributes[key] !== value) return false;
      if (policy === undefined)
        return peer.credentials.current().some((c) => c.issuer === authority.identifier);
      return policy.evaluate({ subject: { ...attributes, identifier: peer.identifier } });
    },
  };
}

/** An authority from any of the ways one is named. */
export function authorityOf(authority: Identity | Authority | Uint8Array | string): Authority {
  const publicKey =
    typeof authority === 'string'
      ? hexKey(authority)
      : authority instanceof Uint8Array
        ? authority
        : authority.publicKey;
  if (publicKey.length !== 32) throw new IdentityError('INVALID_IDENTIFIER', 'an authority key has 32 bytes');
  return { identifier: identifierFromKey(publicKey), publicKey: new Uint8Array(publicKey) };
}

/** `identifierOf` without a vault: `I` and the hex of the first 20 bytes of SHA-256(key). */
function identifierFromKey(publicKey: Uint8Array): string {
  return 'I' + Buffer.from(new Sha256().update(publicKey).digest().subarray(0, 20)).toString('hex');
}

function hexKey(text: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new IdentityError('INVALID_IDENTIFIER', 'an authority public key is 64 hex digits');
  }
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** A custom, possibly asynchronous, predicate (a directory lookup, a revocation list). */
export function trustIf(
  name: string,
  predicate: (peer: PeerIdentity) => boolean | Promise<boolean>,
): TrustPolicy {
  return { name, check: predicate };
}

/** Identifiers an allow-list file may hold at most: a bound on what reading one can cost. */
export const MAX_ALLOW_LIST = 10_000;

/**
 * Parses a list of identifiers separated by commas, spaces or newlines (`#` starts a comment that runs to
 * the end of its line). Every entry must be a well-formed identifier; throws `IdentityError`
 * `INVALID_IDENTIFIER` for the first one that is not, or for an empty or oversized list.
 */
export function parseIdentifierList(text: string): string[] {
  const identifiers = text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join(' ')
    .split(/[\s,]+/)
    .filter((entry) => entry !== '');
  if (identifiers.length === 0) throw new IdentityError('INVALID_IDENTIFIER', 'the allow-list is empty');
  if (identifiers.length > MAX_ALLOW_LIST) {
    throw new IdentityError('INVALID_IDENTIFIER', `the allow-list has more than ${MAX_ALLOW_LIST} entries`);
  }
  return identifiers.map(parseIdentifier);
}

/**
 * An allow-list policy from a setting such as `SEALROUTE_ALLOW`: identifiers separated by commas or spaces
 * (`I12…,I34…`), or `@` and the path of a file that lists them (`@allowed.txt`, one or more per line, `#`
 * comments). Undefined or empty: undefined, so that the caller picks its default explicitly. Throws
 * `IdentityError` `INVALID_IDENTIFIER` for a malformed list or a file that cannot be read (the cause says
 * why): a typo must never widen whom a listener admits.
 */
export function allowListFrom(spec: string | undefined): TrustPolicy | undefined {
  if (spec === undefined || spec.trim() === '') return undefined;
  if (!spec.startsWith('@')) return TrustIdentifier(...parseIdentifierList(spec));
  const path = spec.slice(1);
  let text: string;
  try {
    // An allow-list is a few kilobytes; the size check keeps a wrong path (a device, a huge log) harmless.
    if (statSync(path).size > MAX_ALLOW_LIST * 64) throw new Error('the file is too large for an allow-list');
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new IdentityError('INVALID_IDENTIFIER', `cannot read the allow-list ${path}`, { cause });
  }
  return TrustIdentifier(...parseIdentifierList(text));
}
