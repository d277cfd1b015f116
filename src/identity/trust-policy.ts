import { readFileSync, statSync } from 'node:fs';
import { IdentityError } from './errors';
import { parseIdentifier } from './identity';

/** What a trust policy is asked about: the authenticated peer of a handshake. */
export interface PeerIdentity {
  /** The peer's printable identifier (`I…`). */
  readonly identifier: string;
  /** The peer's Ed25519 identity public key. */
  readonly publicKey: Uint8Array;
}

/**
 * Decides whom to talk to. Asked once per handshake, after the peer proved its identity; also usable as an
 * access rule through `fromSecureChannel(policy)`.
 */
export interface TrustPolicy {
  /** Shown in logs and errors. */
  readonly name: string;
  check(peer: PeerIdentity): boolean | Promise<boolean>;
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
    check: async (peer) => {
      for (const policy of policies) if (!(await policy.check(peer))) return false;
      return true;
    },
  };
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
