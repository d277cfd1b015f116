import type { DeliveryFailureCode, DeliveryFailureNotice } from '../../core/delivery-failure';
import { SealrouteError } from '../../core/errors';

/** What went wrong with a TCP portal (an inlet, an outlet or one of their sessions). */
export const PORTAL_ERROR_CODES = [
  /** An option is out of range, or an address does not parse (the message names the option). */
  'INVALID_OPTION',
  /** The inlet could not listen at its address (in use, not permitted). */
  'BIND_FAILED',
  /** The outlet could not connect to its target (refused, unreachable, timed out). */
  'TARGET_UNREACHABLE',
  /** The outlet refused the session: its access rule did not admit the channel's peer. */
  'ACCESS_DENIED',
  /** A session limit was hit (sessions per inlet, per outlet, per channel). */
  'LIMIT_REACHED',
  /** The session carried nothing for `idleTimeoutMs`. */
  'IDLE_TIMEOUT',
  /** The other end did not answer the session's OPEN within `openTimeoutMs`. */
  'OPEN_TIMEOUT',
  /** The other end broke the portal protocol (bytes beyond its window, a malformed message). */
  'PROTOCOL',
  /** The other end speaks another version of the portal protocol. */
  'UNSUPPORTED_VERSION',
  /** This end's TCP connection was reset or failed before both sides had finished. */
  'CONNECTION_RESET',
  /** The other end's TCP connection was reset, so this one is too. */
  'PEER_RESET',
  /** The secure channel (or the route) the session travelled through is gone. */
  'CHANNEL_CLOSED',
  /** The inlet or outlet was closed (or its node stopped). */
  'CLOSED',
] as const;

/** See `PORTAL_ERROR_CODES`. */
export type PortalErrorCode = (typeof PORTAL_ERROR_CODES)[number];

/** An error of a TCP portal; told apart by `code`, never by message. */
export class PortalError extends SealrouteError {
  override readonly name = 'PortalError';
  declare readonly code: PortalErrorCode;

  constructor(code: PortalErrorCode, message: string, options?: { cause?: unknown }) {
    super('services', code, message, options);
  }
}

/** The notice codes that mean the channel itself is gone, so every session through it is. */
export const CHANNEL_GONE: ReadonlySet<DeliveryFailureCode> = new Set([
  'CHANNEL_CLOSED',
  'PEER_UNRESPONSIVE',
]);

/** The error a session ends with when one of its messages was not delivered (`notice`). */
export function noticeError(notice: DeliveryFailureNotice): PortalError {
  const code: PortalErrorCode = notice.code === 'ACCESS_DENIED' ? 'ACCESS_DENIED' : 'CHANNEL_CLOSED';
  return new PortalError(code, `a portal message was not delivered: ${notice.code}`, { cause: notice.cause });
}
