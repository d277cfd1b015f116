import type { Vault } from '../vault/vault';
import { signedStatement, type Credential } from './credential-codec';
import type { Authority } from './credential';

/** How many verified credentials are remembered (process-wide). */
export const VERIFIED_CREDENTIALS_CAPACITY = 1024;

/** A credential whose signature verified, and the authority key it verified with. */
export interface RememberedCredential {
  readonly credential: Credential;
  readonly publicKey: Uint8Array;
}

/**
 * Credentials already verified, by their whole encoding: a peer that presents the same credential again
 * (every reconnect until it is renewed) skips the decoding and the Ed25519 verification, as the channel's
 * binding cache does for identity proofs. Only the decoding and the signature are remembered: the issuer's
 * key is compared with the verifier's trusted one, and subject and validity are checked on every use. Only
 * successes are kept; the least recently used go first.
 */
export class VerifiedCredentials {
  private readonly entries = new Map<string, RememberedCredential>();

  /** The credential encoded as `encoded`, if its signature verified before. */
  recall(encoded: Uint8Array): RememberedCredential | undefined {
    const key = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength).toString('latin1');
    const found = this.entries.get(key);
    if (found !== undefined) {
      this.entries.delete(key); // re-inserted: Map order is recency order
      this.entries.set(key, found);
    }
    return found;
  }

  /** Whether `credential`'s signature verifies by `authority`; remembered if it does. */
  check(vault: Vault, authority: Authority, credential: Credential): boolean {
    if (!vault.verify(authority.publicKey, signedStatement(credential.signedBody), credential.signature)) {
      return false;
    }
    if (this.entries.size >= VERIFIED_CREDENTIALS_CAPACITY) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    const { encoded } = credential;
    const key = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength).toString('latin1');
    this.entries.set(key, { credential, publicKey: authority.publicKey });
    return true;
  }
}

/** The process-wide cache that `TrustedAuthorities.verify` uses. */
export const verifiedCredentials = new VerifiedCredentials();
