import { resolveOptions, type ResolvedOptions } from '../core/options';
import { AuthorityError } from './authority-errors';
import type { AuthorityRefusalCode } from './authority-messages';

/** The attribute that makes a member an enroller (any value): it may add and remove members, make tickets. */
export const ENROLLER_ATTRIBUTE = 'enroller';

/** How an authority is started. */
export interface AuthorityOptions {
  /**
   * Where the member table and the outstanding tickets are kept (JSON, replaced atomically on every change,
   * locked by `<path>.lock`). Without it they live in memory only: for tests.
   */
  readonly statePath?: string;
  /** Identifiers made members with `enroller=true` at every start (the authority's administrators). */
  readonly enrollers?: readonly string[];
  /** How long the credentials it issues are valid, in ms. Default one hour. */
  readonly credentialTtlMs?: number;
  /** How long a ticket is valid when its creator does not say, in ms. Default 10 minutes. */
  readonly ticketTtlMs?: number;
  /** The longest validity a ticket may ask for, in ms. Default 7 days. */
  readonly maxTicketTtlMs?: number;
  /** The most uses a ticket may allow. Default 1,000. */
  readonly maxTicketUses?: number;
  /** Members at most. Default 100,000. */
  readonly maxMembers?: number;
  /** Outstanding (unexpired) tickets at most. Default 10,000. */
  readonly maxTickets?: number;
  /**
   * Failed enrollments one identity may make in a minute before its further attempts are refused without
   * being checked (`LIMIT_REACHED`). Default 10. Guessing a 128-bit secret is hopeless anyway; the bound
   * keeps a guesser from filling the log and the CPU.
   */
  readonly maxFailedEnrollmentsPerMinute?: number;
}

/** The defaults of `AuthorityOptions`. */
export const AUTHORITY_DEFAULTS = Object.freeze({
  credentialTtlMs: 3_600_000,
  ticketTtlMs: 600_000,
  maxTicketTtlMs: 7 * 24 * 3_600_000,
  maxTicketUses: 1_000,
  maxMembers: 100_000,
  maxTickets: 10_000,
  maxFailedEnrollmentsPerMinute: 10,
});

const YEAR_MS = 365 * 24 * 3_600_000;

/** Each numeric option's default and range. */
const SPECS = {
  credentialTtlMs: { default: AUTHORITY_DEFAULTS.credentialTtlMs, min: 1, max: YEAR_MS },
  ticketTtlMs: { default: AUTHORITY_DEFAULTS.ticketTtlMs, min: 1, max: YEAR_MS },
  maxTicketTtlMs: { default: AUTHORITY_DEFAULTS.maxTicketTtlMs, min: 1, max: YEAR_MS },
  maxTicketUses: { default: AUTHORITY_DEFAULTS.maxTicketUses, min: 1, max: 1e6 },
  maxMembers: { default: AUTHORITY_DEFAULTS.maxMembers, min: 1, max: 1e7 },
  maxTickets: { default: AUTHORITY_DEFAULTS.maxTickets, min: 1, max: 1e7 },
  maxFailedEnrollmentsPerMinute: {
    default: AUTHORITY_DEFAULTS.maxFailedEnrollmentsPerMinute,
    min: 1,
    max: 1e6,
  },
} as const;

/** The numeric settings of an authority, every one given. */
export type AuthoritySettings = ResolvedOptions<typeof SPECS>;

/** The options with their defaults; `AuthorityError` `INVALID_OPTIONS` names an option out of range. */
export function authoritySettings(options: AuthorityOptions): AuthoritySettings {
  return resolveOptions(
    'AuthorityOptions',
    SPECS,
    options,
    (message) => new AuthorityError('INVALID_OPTIONS', message),
  );
}

/** Counters of an authority. */
export interface AuthorityStats {
  readonly members: number;
  readonly tickets: number;
  readonly credentialsIssued: number;
  readonly enrollments: number;
  /** Refused requests by code (a bad, used or expired ticket among them). */
  readonly refused: Readonly<Record<AuthorityRefusalCode, number>>;
}

/** What `createTicket` may be told. */
export interface TicketOptions {
  /** Attributes the member gets (not `enroller`: a ticket is a string that can leak). */
  readonly attributes?: Readonly<Record<string, string>>;
  /** How long it may be used, in ms (default `AuthorityOptions.ticketTtlMs`). */
  readonly ttlMs?: number;
  /** How many identities may enroll with it (default 1). */
  readonly usageCount?: number;
}

/** A ticket just made: the code to hand to the new member (shown once, never stored), and its expiry. */
export interface NewTicket {
  readonly code: string;
  readonly expiresAt: number;
}

/** Why the authority refuses a request: its code and reason, answered to the requester and counted. */
export class Refusal extends Error {
  constructor(
    readonly code: AuthorityRefusalCode,
    readonly reason: string,
  ) {
    super(reason);
  }
}
