import type { Vault } from '../vault/vault';
import { signedStatement, type Credential } from './credential-codec';
import type { Authority } from './credential';

/** How many verified credential signatures are remembered (process-wide). */
export const VERIFIED_CREDENTIALS_CAPACITY = 1024;

/**
 * Credential signatures already verified, keyed by (authority key, whole encoded credential): a peer that
 * presents the same credential again (every reconnect until it is renewed) skips an Ed25519 verification,
 * as the channel's binding cache does for identity proofs. Only the signature is cached: subject and
 * validity are checked on every use. Only successes are kept; the least recently used go first.
 */
export class VerifiedCredentials {
  private readonly entries = new Set<string>();

  check(vault: Vault, authority: Authority, credential: Credential): boolean {
    const key =
      Buffer.from(authority.publicKey).toString('latin1') +
      Buffer.from(credential.encoded).toString('latin1');
    if (this.entries.has(key)) {
      this.entries.delete(key); // re-inserted: Set order is recency order
      this.entries.add(key);
      return true;
    }
    if (!vault.verify(authority.publicKey, signedStatement(credential.signedBody), credential.signature)) {
      return false;
    }
    if (this.entries.size >= VERIFIED_CREDENTIALS_CAPACITY) {
      this.entries.delete(this.entries.values().next().value as string);
    }
    this.entries.add(key);
    return true;
  }
}

/** The process-wide cache that `TrustedAuthorities.verify` uses. */
export const verifiedCredentials = new VerifiedCredentials();
