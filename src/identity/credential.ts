/**
 * Credentials: an authority's signed statement that a subject identity has some attributes
 * (`role=db-client`, `relay=bob`) from one time to another. The format is in credential-codec.ts and
 * docs/PROTOCOL.md ("Credentials"); this file decides whom to trust: `TrustedAuthorities` verifies a
 * presented credential against a set of authorities, for a subject, at a time.
 */
import type { Vault } from '../vault/vault';
import { decodeCredential, type Credential } from './credential-codec';
import { CredentialError } from './errors';
import { identifierOf, type Identity } from './identity';
import { verifiedCredentials } from './verified-credentials';

export {
  ATTRIBUTE_KEY_PATTERN,
  CREDENTIAL_LIMITS,
  CREDENTIAL_VERSION,
  checkAttributes,
  decodeCredential,
  issueCredential,
  type Attributes,
  type Credential,
  type CredentialBody,
} from './credential-codec';
export { VERIFIED_CREDENTIALS_CAPACITY } from './verified-credentials';

/** A credential that verified against a trusted authority, for a given subject, at a given time. */
export type VerifiedCredential = Credential & { readonly verified: true };

/** A trusted authority: its Ed25519 identity public key (the identifier is derived from it). */
export interface Authority {
  readonly identifier: string;
  readonly publicKey: Uint8Array;
}

/**
 * The authorities a verifier trusts, by identifier. Built from public keys (raw bytes, or 64 hex digits as
 * an authority prints them), `Identity`s or `Authority`s.
 */
export class TrustedAuthorities {
  private readonly byIdentifier = new Map<string, Authority>();

  private constructor(
    private readonly vault: Vault,
    authorities: readonly (Uint8Array | string | Authority | Identity)[],
  ) {
    for (const entry of authorities) {
      const publicKey =
        typeof entry === 'string'
          ? publicKeyFromHex(entry)
          : entry instanceof Uint8Array
            ? entry
            : entry.publicKey;
      if (publicKey.length !== 32) throw new CredentialError('MALFORMED', 'an authority key has 32 bytes');
      const identifier = identifierOf(vault, publicKey);
      this.byIdentifier.set(identifier, { identifier, publicKey: new Uint8Array(publicKey) });
    }
  }

  /** `vault` supplies `verify` and `hash` (no secret is used). */
  static of(
    vault: Vault,
    authorities: readonly (Uint8Array | string | Authority | Identity)[],
  ): TrustedAuthorities {
    return new TrustedAuthorities(vault, authorities);
  }

  /** The identifiers trusted. */
  get identifiers(): string[] {
    return [...this.byIdentifier.keys()];
  }

  has(identifier: string): boolean {
    return this.byIdentifier.has(identifier);
  }

  /** The trusted authority with this identifier. */
  get(identifier: string): Authority | undefined {
    return this.byIdentifier.get(identifier);
  }

  /**
   * Decodes and verifies a credential presented by (or for) `subject`: it must be well-formed, signed by
   * one of these authorities, about `subject`, and valid at `now` give or take `clockSkewMs`. Throws
   * `CredentialError` with `MALFORMED`, `UNSUPPORTED_VERSION`, `UNKNOWN_ISSUER`, `BAD_SIGNATURE`,
   * `WRONG_SUBJECT`, `NOT_YET_VALID` or `EXPIRED`, in that order of checks.
   */
  verify(encoded: Uint8Array, subject: string, options: VerifyOptions = {}): VerifiedCredential {
    // A credential whose exact bytes verified before, by the key this set trusts for its issuer, is taken
    // as it was decoded then (decoding is a pure function of the bytes); only its use is checked below.
    const remembered = verifiedCredentials.recall(encoded);
    const credential =
      remembered !== undefined && sameKey(this.byIdentifier.get(remembered.credential.issuer), remembered)
        ? remembered.credential
        : this.decodeAndCheckSignature(encoded);
    if (credential.subject !== subject) {
      throw new CredentialError(
        'WRONG_SUBJECT',
        `the credential is about ${credential.subject}, presented for ${subject}`,
      );
    }
    const now = options.now ?? Date.now();
    const skew = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
    if (credential.issuedAt > now + skew) {
      throw new CredentialError('NOT_YET_VALID', `the credential is valid from ${iso(credential.issuedAt)}`);
    }
    if (credential.expiresAt + skew <= now) {
      throw new CredentialError('EXPIRED', `the credential expired at ${iso(credential.expiresAt)}`);
    }
    return { ...credential, verified: true };
  }

  private decodeAndCheckSignature(encoded: Uint8Array): Credential {
    const credential = decodeCredential(encoded);
    const authority = this.byIdentifier.get(credential.issuer);
    if (authority === undefined) {
      throw new CredentialError('UNKNOWN_ISSUER', `credential issuer ${credential.issuer} is not trusted`);
    }
    if (!verifiedCredentials.check(this.vault, authority, credential)) {
      throw new CredentialError(
        'BAD_SIGNATURE',
        `the credential's signature by ${credential.issuer} does not verify`,
      );
    }
    return credential;
  }
}

function sameKey(authority: Authority | undefined, remembered: { readonly publicKey: Uint8Array }): boolean {
  return authority !== undefined && Buffer.compare(authority.publicKey, remembered.publicKey) === 0;
}

/** The default allowance for clocks that disagree, in milliseconds (on both ends of a validity period). */
export const DEFAULT_CLOCK_SKEW_MS = 5_000;

/** What `TrustedAuthorities.verify` may be told. */
export interface VerifyOptions {
  /** The time to judge validity at (default now). */
  readonly now?: number;
  /** How far clocks may disagree: a credential is valid from `issuedAt - skew` until `expiresAt + skew`. */
  readonly clockSkewMs?: number;
}

/** Whether `credential` is still valid at `now`, with the same skew rule as `TrustedAuthorities.verify`. */
export function isCurrent(
  credential: Pick<Credential, 'issuedAt' | 'expiresAt'>,
  now: number,
  clockSkewMs = DEFAULT_CLOCK_SKEW_MS,
): boolean {
  return credential.issuedAt <= now + clockSkewMs && now < credential.expiresAt + clockSkewMs;
}

/** The 32-byte public key written as 64 hex digits (how authorities are configured in text). */
export function publicKeyFromHex(text: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new CredentialError('MALFORMED', 'an authority public key is 64 hex digits');
  }
  return new Uint8Array(Buffer.from(text, 'hex'));
}

function iso(time: number): string {
  return new Date(time).toISOString();
}
