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

/** Trusts any peer that proves an identity (the channel is still authenticated and encrypted). */
export const TrustEveryone: TrustPolicy = { name: 'TrustEveryone', check: () => true };

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
