import { SealrouteError } from '../core/errors';

/**
 * Identity failures: a binding that does not verify, a peer that a trust policy refuses, an identifier or
 * allow-list that does not parse (`INVALID_IDENTIFIER`).
 */
export class IdentityError extends SealrouteError {
  override readonly name = 'IdentityError';
  constructor(
    code: 'BAD_PROOF' | 'UNTRUSTED' | 'NO_IDENTITY_KEY' | 'MALFORMED_PROOF' | 'INVALID_IDENTIFIER',
    message: string,
    options?: { cause?: unknown },
  ) {
    super('identity', code, message, options);
  }
}
