/**
 * The layer an error comes from. Together with `code` it tells errors apart; message text is for people
 * only and is never matched on.
 */
export type ErrorOrigin =
  'core' | 'node' | 'vault' | 'identity' | 'noise' | 'channel' | 'transport' | 'services' | 'di';

/**
 * Base class of every error Sealroute throws. Subclasses set a stable `name`, an `origin` and a `code`;
 * the underlying failure, when there is one, is kept as the standard `cause`.
 */
export class SealrouteError extends Error {
  override readonly name: string = 'SealrouteError';
  readonly origin: ErrorOrigin;
  readonly code: string;

  constructor(origin: ErrorOrigin, code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.origin = origin;
    this.code = code;
  }
}

/** An address or route string that does not parse, or an address type that is not registered. */
export class AddressError extends SealrouteError {
  override readonly name = 'AddressError';
  constructor(
    code: 'INVALID_ADDRESS' | 'UNKNOWN_ADDRESS_TYPE',
    message: string,
    options?: { cause?: unknown },
  ) {
    super('core', code, message, options);
  }
}

/** Bytes from outside that do not decode: truncated, malformed, unknown version, or over a size bound. */
export class DecodeError extends SealrouteError {
  override readonly name = 'DecodeError';
  constructor(
    code: 'TRUNCATED' | 'MALFORMED' | 'UNSUPPORTED_VERSION' | 'TOO_LARGE' | 'TRAILING_BYTES',
    message: string,
    options?: { cause?: unknown },
  ) {
    super('core', code, message, options);
  }
}

/** A message that would exceed a configured size bound when encoded. */
export class MessageTooLargeError extends SealrouteError {
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
export class TimeoutError extends SealrouteError {
  override readonly name = 'TimeoutError';
  constructor(
    message: string,
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super('core', 'TIMEOUT', message, options);
  }
}
