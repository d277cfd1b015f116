import { SealrouteError } from '../core/errors';

/** What went wrong in a service. Told apart by `code`, never by message. */
export type ServicesErrorCode =
  /** A registration did not succeed (the cause says why: timeout, unreachable hub). */
  | 'REGISTRATION_FAILED'
  /** The name is held by another registration (the right token is needed to take it back). */
  | 'NAME_TAKEN'
  /** The name is not 1..64 characters of letters, digits, `_` or `-`. */
  | 'INVALID_NAME'
  /** The hub holds as many forwarders as it allows (overall or for this connection). */
  | 'LIMIT_REACHED'
  /** There is no such forwarder, or the token does not match. */
  | 'NOT_FOUND'
  /** The service did not answer in time. */
  | 'TIMEOUT'
  /** The request could not be carried to the service (the detail says why). */
  | 'UNREACHABLE'
  /** The hub answered that it no longer forwards to this node. */
  | 'FORWARDER_GONE'
  /** The client was stopped. */
  | 'STOPPED';

/** An error of a service (forwarding). */
export class ServicesError extends SealrouteError {
  override readonly name = 'ServicesError';
  declare readonly code: ServicesErrorCode;

  constructor(code: ServicesErrorCode, message: string, options?: { cause?: unknown }) {
    super('services', code, message, options);
  }
}
