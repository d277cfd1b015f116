import { MAX_TIMER_MS, integerOption } from '../../core/options';
import { PortalError } from './errors';

/** What inlets and outlets share: the bounds of each session. */
export interface PortalSessionOptions {
  /**
   * Bytes in flight per session and direction: what a sender may send before the receiver acknowledges
   * having written it to its socket. It is the fixed per-session budget: the receiving end never holds more
   * of a session's bytes than this (a peer that sends more is reset, logged and counted), and a slow reader
   * at one end stops the writer at the other once it is used up. Default 256 KiB.
   */
  readonly windowBytes?: number;
  /** A session whose TCP connection carried nothing either way for this long is reset (0: never). */
  readonly idleTimeoutMs?: number;
  /** Sessions open at once; one more TCP connection (inlet) or OPEN (outlet) is refused. */
  readonly maxSessions?: number;
}

/** The defaults of `PortalSessionOptions` and of the inlet's and outlet's own options. */
export const PORTAL_DEFAULTS = Object.freeze({
  windowBytes: 256 * 1024,
  idleTimeoutMs: 30 * 60_000,
  maxSessions: 1024,
  maxSessionsPerChannel: 1024,
  openTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
});

/** The smallest window: below it a session would spend more on acknowledgements than on data. */
export const MIN_WINDOW_BYTES = 1024;
/** The largest window (1 GiB): the budget multiplies by the sessions, so it stays far below memory. */
export const MAX_WINDOW_BYTES = 1 << 30;

/** Validated session bounds. */
export interface SessionLimits {
  readonly windowBytes: number;
  readonly idleTimeoutMs: number;
  readonly maxSessions: number;
}

export function fail(message: string): PortalError {
  return new PortalError('INVALID_OPTION', message);
}

/** Checks the shared options of `owner` (`TcpInletOptions`, `TcpOutletOptions`). */
export function sessionLimits(owner: string, options: PortalSessionOptions): SessionLimits {
  return {
    windowBytes: integerOption(
      `${owner}.windowBytes`,
      options.windowBytes,
      PORTAL_DEFAULTS.windowBytes,
      {
        min: MIN_WINDOW_BYTES,
        max: MAX_WINDOW_BYTES,
      },
      fail,
    ),
    idleTimeoutMs: integerOption(
      `${owner}.idleTimeoutMs`,
      options.idleTimeoutMs,
      PORTAL_DEFAULTS.idleTimeoutMs,
      {
        min: 0,
        max: MAX_TIMER_MS,
      },
      fail,
    ),
    maxSessions: integerOption(
      `${owner}.maxSessions`,
      options.maxSessions,
      PORTAL_DEFAULTS.maxSessions,
      {
        min: 1,
        max: 1_000_000,
      },
      fail,
    ),
  };
}

/** A timeout option in 1..MAX_TIMER_MS. */
export function timeoutOption(option: string, value: number | undefined, fallback: number): number {
  return integerOption(option, value, fallback, { min: 1, max: MAX_TIMER_MS }, fail);
}
