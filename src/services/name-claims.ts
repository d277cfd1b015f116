import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Route } from '../core/route';
import { identifierOf } from '../identity/identity';
import type { Vault } from '../vault/vault';
import { nameClaimStatement, type NameClaim } from './forwarding-messages';

/** A new registration token (16 random bytes, hex): proof of holding a name or address. */
export function newToken(): string {
  return randomBytes(16).toString('hex');
}

/** Hex SHA-256 of a token: the hub keeps this, never the token itself. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Whether `token` hashes to `expected`, in constant time. */
export function sameHash(expected: string, token: string | undefined): boolean {
  if (token === undefined) return false;
  return timingSafeEqual(Buffer.from(expected, 'hex'), createHash('sha256').update(token).digest());
}

interface Challenge {
  readonly firstHop: string;
  readonly source: string;
  readonly expiresAt: number;
}

/** Bounds of the challenges a hub keeps outstanding. */
export interface ChallengeLimits {
  readonly challengeTtlMs: number;
  readonly maxChallengesPerSource: number;
  readonly maxChallenges: number;
}

/**
 * The challenges a hub issued for identity-bound registrations: each is single use, short-lived, valid only
 * on the connection that asked for it, and bounded per source (a newer one replaces the oldest) and
 * hub-wide.
 */
export class ChallengeBook {
  private readonly issued = new Map<string, Challenge>();
  private readonly bySource = new Map<string, string[]>();

  constructor(
    private readonly hubId: string,
    private readonly limits: ChallengeLimits,
  ) {}

  /** A fresh challenge for the registrant at `returnRoute`, or undefined when the hub holds its maximum. */
  issue(returnRoute: Route, source: string): string | undefined {
    const now = Date.now();
    if (this.issued.size >= this.limits.maxChallenges) this.sweep(now);
    const mine = this.bySource.get(source) ?? [];
    if (mine.length >= this.limits.maxChallengesPerSource) this.issued.delete(mine.shift()!);
    else if (this.issued.size >= this.limits.maxChallenges) return undefined;
    const challenge = randomBytes(16).toString('hex');
    this.issued.set(challenge, {
      firstHop: returnRoute.next!.key,
      source,
      expiresAt: now + this.limits.challengeTtlMs,
    });
    mine.push(challenge);
    this.bySource.set(source, mine);
    return challenge;
  }

  /** The identifier whose key signed `claim` for `name` over a live challenge issued on this connection. */
  verify(claim: NameClaim, name: string, returnRoute: Route, vault: Vault): string | undefined {
    const issued = this.issued.get(claim.challenge);
    if (issued === undefined) return undefined;
    this.issued.delete(claim.challenge); // single use, whatever the outcome
    this.forget(issued.source, claim.challenge);
    if (issued.expiresAt <= Date.now() || issued.firstHop !== returnRoute.next!.key) return undefined;
    const statement = nameClaimStatement(this.hubId, claim.challenge, name, claim.key);
    if (!vault.verify(claim.key, statement, claim.sig)) return undefined;
    return identifierOf(vault, claim.key);
  }

  /** Drops expired challenges. */
  sweep(now = Date.now()): void {
    for (const [challenge, issued] of this.issued) {
      if (issued.expiresAt > now) continue;
      this.issued.delete(challenge);
      this.forget(issued.source, challenge);
    }
  }

  private forget(source: string, challenge: string): void {
    const list = this.bySource.get(source);
    const at = list?.indexOf(challenge) ?? -1;
    if (at >= 0) list!.splice(at, 1);
    if (list?.length === 0) this.bySource.delete(source);
  }
}
