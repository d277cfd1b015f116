import { SealrouteError } from '../core/errors';

/** What went wrong in a service. Told apart by `code`, never by message. */
export type ServicesErrorCode =
  /** A registration did not succeed (the cause says why: timeout, unreachable hub). */
  | 'REGISTRATION_FAILED'
  /** The name is held by another registration (the right token is needed to take it back). */
  | 'NAME_TAKEN'
  /** The name is not 1..63 of `a-z 0-9 _ -` starting with a letter or digit (`FORWARDER_NAME`). */
  | 'INVALID_NAME'
  /** A request (or `RemoteForwarder` options) the service cannot accept as it is (the reason says why). */
  | 'INVALID_REQUEST'
  /** The identity's proof for a bound name did not verify (or its challenge was unknown, used or expired). */
  | 'BAD_PROOF'
  /** An option is out of its range (the message names it and the range). */
  | 'INVALID_OPTION'
  /** The peer speaks another version of the forwarding protocol. */
  | 'UNSUPPORTED_VERSION'
  /**
   * The hub holds as many forwarders or names as it allows: overall, for this connection, for this source
   * IP, or for this identity (the reason says which).
   */
  | 'LIMIT_REACHED'
  /** The hub admits registrations by credential, and this one had none that gives its name (`relay=`). */
  | 'NOT_AUTHORIZED'
  /** There is no such forwarder, or the token does not match. */
  | 'NOT_FOUND'
  /** The service did not answer in time. */
  | 'TIMEOUT'
  /** The request could not be carried to the service (the detail says why). */
  | 'UNREACHABLE'
  /** The hub answered that it no longer forwards to this node. */
  | 'FORWARDER_GONE'
  /** The client was stopped. */
  | 'STOPPED'
  /** The hub's forwarder state file is locked by another process, unreadable or malformed. */
  | 'STATE_FILE'
  /** A forwarding address that is not `<identifier>@<forwarder>` (see `ForwardingAddress.parse`). */
  | 'INVALID_FORWARDING_ADDRESS';

/** An error of a service (forwarding). */
export class ServicesError extends SealrouteError {
  override readonly name = 'ServicesError';
  declare readonly code: ServicesErrorCode;

  constructor(code: ServicesErrorCode, message: string, options?: { cause?: unknown }) {
    super('services', code, message, options);
  }
}
