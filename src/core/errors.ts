/**
 * The layer an error comes from. Together with `code` it tells errors apart; message text is for people
 * only and is never matched on.
 */
export type ErrorOrigin =
  'core' | 'node' | 'vault' | 'identity' | 'noise' | 'channel' | 'transport' | 'services' | 'di';

/**
 * Base class of every error Sealroute throws. Subclasses set a stable `name`, an `origin` and a `code` from
 * their layer's closed list; the underlying failure, when there is one, is kept as the standard `cause`.
 */
export class SealrouteError<C extends string = string> extends Error {
  override readonly name: string = 'SealrouteError';
  readonly origin: ErrorOrigin;
  readonly code: C;

  constructor(origin: ErrorOrigin, code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.origin = origin;
    this.code = code;
  }
}

/** The codes of `AddressError`. */
export const ADDRESS_ERROR_CODES = ['INVALID_ADDRESS'] as const;
export type AddressErrorCode = (typeof ADDRESS_ERROR_CODES)[number];

/** An address or route that does not parse or is not valid (an empty value, a type out of range). */
export class AddressError extends SealrouteError<AddressErrorCode> {
  override readonly name = 'AddressError';
  constructor(code: AddressErrorCode, message: string, options?: { cause?: unknown }) {
    super('core', code, message, options);
  }
}

/** The codes of `DecodeError`. */
export const DECODE_ERROR_CODES = ['TRUNCATED', 'MALFORMED', 'UNSUPPORTED_VERSION', 'TOO_LARGE'] as const;
export type DecodeErrorCode = (typeof DECODE_ERROR_CODES)[number];

/** Bytes from outside that do not decode: truncated, malformed, unknown version, or over a size bound. */
export class DecodeError extends SealrouteError<DecodeErrorCode> {
  override readonly name = 'DecodeError';
  constructor(code: DecodeErrorCode, message: string, options?: { cause?: unknown }) {
    super('core', code, message, options);
  }
}

/** The codes of `EncodeError`. */
export const ENCODE_ERROR_CODES = ['ROUTE_TOO_LONG', 'ADDRESS_TOO_LONG'] as const;
export type EncodeErrorCode = (typeof ENCODE_ERROR_CODES)[number];

/**
 * A route this node was asked to send that no peer could decode: more hops than `MAX_ROUTE_LENGTH`, or an
 * address longer than `MAX_ADDRESS_BYTES`. Thrown while encoding, before anything is sent.
 */
export class EncodeError extends SealrouteError<EncodeErrorCode> {
  override readonly name = 'EncodeError';
  constructor(code: EncodeErrorCode, message: string, options?: { cause?: unknown }) {
    super('core', code, message, options);
  }
}

/** A message that would exceed a configured size bound when encoded. */
export class MessageTooLargeError extends SealrouteError<'MESSAGE_TOO_LARGE'> {
  override readonly name = 'MessageTooLargeError';
  constructor(
    readonly size: number,
    readonly limit: number,
    options?: { cause?: unknown },
  ) {
    super(
      'core',
      'MESSAGE_TOO_LARGE',
      `message of ${size} bytes exceeds the limit of ${limit} bytes`,
      options,
    );
  }
}

/** Something waited longer than its timeout allowed. */
export class TimeoutError extends SealrouteError<'TIMEOUT'> {
  override readonly name = 'TimeoutError';
  constructor(
    message: string,
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super('core', 'TIMEOUT', message, options);
  }
}
