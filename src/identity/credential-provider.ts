/**
 * Where a secure channel end gets the credentials it presents about its own identity: in the handshake,
 * and again in a refresh frame whenever they change (a member's credentials are renewed before they
 * expire). A fixed list works for tests; `MemberCredentials` (services) fetches and renews from an
 * authority.
 */
export interface CredentialProvider {
  /** The encoded credentials to present now (at most `MAX_PRESENTED_CREDENTIALS`). */
  current(): readonly Uint8Array[];
  /** Calls `listener` after the credentials change; returns a function that stops calling it. */
  onChange?(listener: () => void): () => void;
}

/** Credentials one side may present at once (the handshake payload bounds them). */
export const MAX_PRESENTED_CREDENTIALS = 4;

/** A provider of a fixed list. */
export function fixedCredentials(credentials: readonly Uint8Array[]): CredentialProvider {
  const list = Object.freeze([...credentials]);
  return { current: () => list };
}
