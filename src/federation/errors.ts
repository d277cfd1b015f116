import { SealrouteError } from '../core/errors';

/** What went wrong in a hub federation. Told apart by `code`, never by message. */
export type FederationErrorCode =
  /** A federation option is missing or out of range (the message names it). */
  | 'INVALID_OPTIONS'
  /** The NATS servers could not be reached, or JetStream (the name bucket) is not available. */
  | 'NATS_UNAVAILABLE'
  /** The name is bound, federation-wide, to another identity. */
  | 'NAME_TAKEN'
  /** The federation was stopped. */
  | 'STOPPED'
  /** A hub given by host name has no address now (a `FailoverForwarder`'s `unresolved` event). */
  | 'UNRESOLVED'
  /** No hub of a `FailoverForwarder`'s list took its first registration within `registerTimeoutMs`. */
  | 'UNREACHABLE';

/**
 * An error of a hub federation (src/federation). Its `origin` is `services`: the federation is a service
 * of a hub, at the services level of the layers.
 */
export class FederationError extends SealrouteError {
  override readonly name = 'FederationError';
  declare readonly code: FederationErrorCode;

  constructor(code: FederationErrorCode, message: string, options?: { cause?: unknown }) {
    super('services', code, message, options);
  }
}
