import type { Address } from '../core/address';
import { MAX_TIMER_MS, integerOption } from '../core/options';
import type { LocalInfo } from '../core/message';
import type { Route } from '../core/route';
import type { Vault } from '../vault/vault';
import { ServicesError } from './errors';
import type { RefusalCode, RegisterRequest } from './forwarding-messages';

/**
 * What an admission hook is told about a registration that passed the service's own checks (name syntax,
 * proof of identity, limits), before a forwarder is started for it.
 */
export interface RegistrationRequest {
  /** The request as it arrived (a credential, say, travels in a field the hook knows). */
  readonly request: RegisterRequest;
  /** The name asked for; undefined for a random address. */
  readonly name: string | undefined;
  /** The identifier the name is (or is being) bound to, after its proof verified. */
  readonly owner: string | undefined;
  /** Who the registration counts against (see `sourceOf`). */
  readonly source: string;
  /** The registration's return route: where the forwarder will send. */
  readonly route: Route;
  /** The local info of the request (the connection it came by). */
  readonly localInfo: LocalInfo;
}

/** A refusal of an admission hook: a code of the forwarding protocol, and a reason told to the registrant. */
export interface RegistrationRefusal {
  readonly code: RefusalCode;
  readonly reason: string;
}

/**
 * An admission for a time only (say, until the credential that admitted it expires): when it ends and the
 * holder has not registered again meanwhile (with a renewed credential), the hub drops the forwarder (its
 * name stays reserved as after any loss), logs why and counts it (`ForwardingStats.admissionsExpired`).
 */
export interface RegistrationAdmitted {
  /** Until when the registration is admitted, in ms since the Unix epoch. */
  readonly admittedUntil: number;
}

/** What an admission hook decides: undefined admits for good, `RegistrationAdmitted` for a time. */
export type AdmissionVerdict = RegistrationRefusal | RegistrationAdmitted | undefined;

/**
 * Decides whether a registration may go ahead: undefined admits it, `{ admittedUntil }` admits it until
 * then, a refusal is answered to the registrant, logged and counted like the service's own. It runs for new
 * registrations and for a holder taking its name or address back alike. A hook that throws refuses
 * (`INVALID_REQUEST`).
 */
export type RegistrationAdmission = (
  registration: RegistrationRequest,
) => AdmissionVerdict | Promise<AdmissionVerdict>;

/** Whether an admission hook's verdict is a refusal. */
export function isRefusal(verdict: AdmissionVerdict): verdict is RegistrationRefusal {
  return verdict !== undefined && 'code' in verdict;
}

/** How a forwarding service behaves. Every field but `statePath`, `vault` and `admit` has a default. */
export interface ForwardingServiceOptions {
  /** Live forwarders plus the reservations of random and unbound names in their grace period, hub-wide. */
  readonly maxForwarders?: number;
  /** Live forwarders that share a route's first hop (one client connection). */
  readonly maxForwardersPerConnection?: number;
  /**
   * Forwarders and names (live or reserved, bound names included) last registered from one source: a remote
   * IPv4 address, or an IPv6 /64 (one host usually holds a whole /64). A bound name's owner taking its own
   * name back is not refused by this cap.
   */
  readonly maxForwardersPerSource?: number;
  /** Identity-bound names the hub keeps, live or not. */
  readonly maxBoundNames?: number;
  /** Names bound to one identity. */
  readonly maxNamesPerIdentity?: number;
  /**
   * How long a random address or an unbound name stays reserved for the holder of its token after its
   * forwarder went away (its connection dropped, or the hub restarted), before its slot is freed.
   */
  readonly reattachGraceMs?: number;
  /** How long a bound name stays reserved for its identity after its forwarder went away. */
  readonly boundNameTtlMs?: number;
  /** How long a challenge for an identity-bound registration may be used (once). */
  readonly challengeTtlMs?: number;
  /** Challenges outstanding per source (a newer one replaces the oldest). */
  readonly maxChallengesPerSource?: number;
  /** Challenges outstanding hub-wide (beyond it, `LIMIT_REACHED`). */
  readonly maxChallenges?: number;
  /**
   * Where the hub keeps its table of names and addresses (JSON, replaced atomically on every change, locked
   * by `<path>.lock`), so that bound names, unbound names and random addresses survive a hub restart or a
   * crash. Without it the table lives in memory only: a restarted hub has forgotten every name, and whoever
   * asks first gets it.
   */
  readonly statePath?: string;
  /** The vault whose `verify` and `hash` check identity proofs (default: a new in-memory vault). */
  readonly vault?: Vault;
  /** Admits or refuses each registration after the service's own checks (default: admit). */
  readonly admit?: RegistrationAdmission;
}

/** The defaults of `ForwardingServiceOptions` (a hub without a state file keeps its table in memory only). */
export const FORWARDING_DEFAULTS = Object.freeze({
  maxForwarders: 10_000,
  maxForwardersPerConnection: 16,
  maxForwardersPerSource: 64,
  maxBoundNames: 10_000,
  maxNamesPerIdentity: 8,
  reattachGraceMs: 60_000,
  boundNameTtlMs: 30 * 24 * 3_600_000,
  challengeTtlMs: 30_000,
  maxChallengesPerSource: 16,
  maxChallenges: 10_000,
});

/** The numeric settings of a forwarding service, every one given. */
export type ForwardingSettings = { readonly [K in keyof typeof FORWARDING_DEFAULTS]: number };

/** The largest value each setting accepts (the smallest is 1, 0 for a duration). */
const MAXIMA: Readonly<Record<keyof ForwardingSettings, number>> = {
  maxForwarders: 10_000_000,
  maxForwardersPerConnection: 10_000_000,
  maxForwardersPerSource: 10_000_000,
  maxBoundNames: 10_000_000,
  maxNamesPerIdentity: 10_000_000,
  reattachGraceMs: MAX_TIMER_MS,
  boundNameTtlMs: 10 * 365 * 24 * 3_600_000,
  challengeTtlMs: MAX_TIMER_MS,
  maxChallengesPerSource: 10_000_000,
  maxChallenges: 10_000_000,
};

/**
 * The options with their defaults filled in (an option given as `undefined` keeps its default); throws
 * `ServicesError` `INVALID_OPTION` naming an option out of its range.
 */
export function forwardingSettings(options: ForwardingServiceOptions): ForwardingSettings {
  const settings = { ...FORWARDING_DEFAULTS } as Record<keyof ForwardingSettings, number>;
  for (const key of Object.keys(MAXIMA) as (keyof ForwardingSettings)[]) {
    settings[key] = integerOption(
      `ForwardingServiceOptions.${key}`,
      options[key],
      FORWARDING_DEFAULTS[key],
      { min: key.endsWith('Ms') ? 0 : 1, max: MAXIMA[key] },
      (message) => new ServicesError('INVALID_OPTION', message),
    );
  }
  return settings;
}

/** A forwarder the service made, as `forwarders()` lists it. */
export interface ForwarderInfo {
  /** Its local address on the hub (`fwd.r.<hex>` or `fwd.n.<name>`). */
  readonly address: Address;
  readonly name: string | undefined;
  /** The identifier its name is bound to, if it is bound. */
  readonly owner: string | undefined;
  /** Where it sends what it receives: the registration's return route. */
  readonly route: Route;
}

/** What the service has done and refused since it started (`stats()`). */
export interface ForwardingStats {
  /** Forwarders live now. */
  readonly live: number;
  /** Random addresses and names reserved for an absent holder now. */
  readonly reserved: number;
  /** Identity-bound names kept now (live or not). */
  readonly boundNames: number;
  /** New forwarders registered. */
  readonly registered: number;
  /** Names and addresses taken back by their holder (token or identity). */
  readonly reattached: number;
  /** Reservations that expired, freeing their slots. */
  readonly expired: number;
  /** Refusals answered, by code. */
  readonly refused: Readonly<Record<RefusalCode, number>>;
  /** Requests dropped unanswered (no well-formed nonce, or no return route). */
  readonly dropped: number;
  /**
   * Forwarders dropped because their admission ended (`RegistrationAdmitted`: the relay credential that
   * admitted them expired and was not renewed by a new registration).
   */
  readonly admissionsExpired: number;
  /** Writes of the state file that failed (the table stays right in memory; the next change retries). */
  readonly persistFailures: number;
  /**
   * Messages forwarded to clients by way of their forwarding address (the first message of a channel; its
   * later frames go straight to the client's connection, joined by the forwarder).
   */
  readonly forwarded: number;
}
