import { DEFAULT_CLOCK_SKEW_MS, isCurrent, type Attributes, type VerifiedCredential } from './credential';

/**
 * The verified credentials a peer presented on a secure channel: in its handshake, and later in refresh
 * frames, which replace them. Access rules and trust policies read it at the time of each message, so that
 * access based on a credential ends the moment it expires (after the clock skew allowance), whether or not
 * the channel has noticed yet.
 */
export class PeerCredentials {
  private list: readonly VerifiedCredential[];

  constructor(
    credentials: readonly VerifiedCredential[],
    /** The same allowance the credentials were verified with. */
    readonly clockSkewMs = DEFAULT_CLOCK_SKEW_MS,
  ) {
    this.list = Object.freeze([...credentials]);
  }

  /** The credentials still valid at `now`. */
  current(now = Date.now()): readonly VerifiedCredential[] {
    return this.list.filter((credential) => isCurrent(credential, now, this.clockSkewMs));
  }

  /** Every credential presented last, valid or not. */
  get all(): readonly VerifiedCredential[] {
    return this.list;
  }

  /**
   * The attributes of the credentials valid at `now`, merged (a key that two credentials give takes the
   * value of the more recently issued one); from `issuer` only when it is given.
   */
  attributes(now = Date.now(), issuer?: string): Attributes {
    const merged = Object.create(null) as Record<string, string>;
    const valid = this.current(now).filter(
      (credential) => issuer === undefined || credential.issuer === issuer,
    );
    for (const credential of [...valid].sort((a, b) => a.issuedAt - b.issuedAt)) {
      Object.assign(merged, credential.attributes);
    }
    return merged;
  }

  /** When the last of them stops being valid (with the skew), or undefined when there are none. */
  get validUntil(): number | undefined {
    if (this.list.length === 0) return undefined;
    return Math.max(...this.list.map((credential) => credential.expiresAt)) + this.clockSkewMs;
  }

  /** Replaces the credentials (a refresh over an open channel). */
  replace(credentials: readonly VerifiedCredential[]): void {
    this.list = Object.freeze([...credentials]);
  }
}
