import { SealrouteError } from '../core/errors';
import type { AuthorityRefusalCode } from './authority-messages';

/** Why an authority request failed on the client: the authority's refusal code, or a local failure. */
export type AuthorityErrorCode =
  | AuthorityRefusalCode
  /** The authority's member table on disk is locked by another process, unreadable or malformed. */
  | 'STATE_FILE'
  /** The authority's answer was not a reply of the authority protocol. */
  | 'BAD_REPLY'
  /** An enrollment ticket string that does not parse (see `EnrollmentTicket.parse`). */
  | 'INVALID_TICKET'
  /** Options the authority or client cannot accept (the message names the option). */
  | 'INVALID_OPTIONS';

/** An error of the authority service or its client. Told apart by `code`, never by message. */
export class AuthorityError extends SealrouteError {
  override readonly name = 'AuthorityError';
  declare readonly code: AuthorityErrorCode;

  constructor(code: AuthorityErrorCode, message: string, options?: { cause?: unknown }) {
    super('services', code, message, options);
  }
}
