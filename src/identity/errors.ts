import { SealrouteError } from '../core/errors';

/**
 * Why an identity operation failed: a binding whose signature does not verify (`BAD_PROOF`) or that does
 * not parse (`MALFORMED_PROOF`), an identifier or allow-list that does not parse (`INVALID_IDENTIFIER`).
 * A peer a trust policy refuses is the channel's `SecureChannelError` `UNTRUSTED`, not an identity error.
 */
export const IDENTITY_ERROR_CODES = ['BAD_PROOF', 'MALFORMED_PROOF', 'INVALID_IDENTIFIER'] as const;

/** See `IDENTITY_ERROR_CODES`. */
export type IdentityErrorCode = (typeof IDENTITY_ERROR_CODES)[number];

/** An identity failure; `code` is one of `IDENTITY_ERROR_CODES`. */
export class IdentityError extends SealrouteError {
  override readonly name = 'IdentityError';
  declare readonly code: IdentityErrorCode;
  constructor(code: IdentityErrorCode, message: string, options?: { cause?: unknown }) {
    super('identity', code, message, options);
  }
}

/** Why a credential was refused: a closed list, so callers and counters never match on message text. */
export const CREDENTIAL_ERROR_CODES = [
  'MALFORMED',
  'UNSUPPORTED_VERSION',
  'UNKNOWN_ISSUER',
  'BAD_SIGNATURE',
  'WRONG_SUBJECT',
  'NOT_YET_VALID',
  'EXPIRED',
] as const;

/** See `CREDENTIAL_ERROR_CODES`. */
export type CredentialErrorCode = (typeof CREDENTIAL_ERROR_CODES)[number];

/**
 * A credential that does not verify: malformed or of an unknown version, signed by an issuer that is not
 * trusted or with a signature that does not verify, about another subject, or outside its validity period.
 */
export class CredentialError extends SealrouteError {
  override readonly name = 'CredentialError';
  declare readonly code: CredentialErrorCode;
  constructor(code: CredentialErrorCode, message: string, options?: { cause?: unknown }) {
    super('identity', code, message, options);
  }
}

/** A policy expression that does not parse or does not type-check; `position` is the offending token's. */
export class PolicyExpressionError extends SealrouteError {
  override readonly name = 'PolicyExpressionError';
  constructor(
    code: 'SYNTAX' | 'UNKNOWN_OPERATOR' | 'ARITY' | 'UNKNOWN_NAME' | 'TOO_LARGE',
    message: string,
    /** Offset of the offending token in the expression (0-based, in characters). */
    readonly position: number,
    /** The offending token as written. */
    readonly token: string,
  ) {
    super('identity', code, message);
  }
}
