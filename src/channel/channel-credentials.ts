import { SecureChannelError } from './errors';
import {
  fixedCredentials,
  type Authority,
  type Identity,
  CredentialError,
  MAX_PRESENTED_CREDENTIALS,
  PeerCredentials,
  TrustedAuthorities,
  type CredentialProvider,
  type PeerIdentity,
  type TrustPolicy,
  type VerifiedCredential,
} from '../identity';
import { DEFAULT_CLOCK_SKEW_MS } from '../identity/credential';
import { CREDENTIAL_LIMITS } from '../identity/credential-codec';
import type { Logger } from '../node/logger';
import type { Vault } from '../vault/vault';

/**
 * Credentials on a secure channel (docs/PROTOCOL.md 6.3): what this end presents about its identity (in the
 * handshake's identity payload, and again in an authenticated CREDENTIALS frame whenever its provider renews
 * them), and what it accepts from the peer (verified against the trusted authorities, for the peer's
 * identifier). Kept apart from the handshake and the channel so that each of those only calls in here.
 */

/** `count:u8 (length:u16 credential)*`: how a list of credentials is written in a payload or a frame. */
export function encodeCredentialList(list: readonly Uint8Array[]): Uint8Array {
  const total = list.reduce((sum, credential) => sum + 2 + credential.length, 1);
  const out = new Uint8Array(total);
  out[0] = list.length;
  let offset = 1;
  for (const credential of list) {
    out[offset] = credential.length >> 8;
    out[offset + 1] = credential.length & 0xff;
    out.set(credential, offset + 2);
    offset += 2 + credential.length;
  }
  return out;
}

/** Reads what `encodeCredentialList` wrote, all of `bytes`; undefined if it is malformed or over a bound. */
export function decodeCredentialList(bytes: Uint8Array): Uint8Array[] | undefined {
  if (bytes.length < 1 || bytes[0]! > MAX_PRESENTED_CREDENTIALS) return undefined;
  const list: Uint8Array[] = [];
  let offset = 1;
  for (let i = 0; i < bytes[0]!; i++) {
    if (offset + 2 > bytes.length) return undefined;
    const length = (bytes[offset]! << 8) | bytes[offset + 1]!;
    offset += 2;
    if (length > CREDENTIAL_LIMITS.maxBytes || offset + length > bytes.length) return undefined;
    list.push(bytes.subarray(offset, offset + length));
    offset += length;
  }
  return offset === bytes.length ? list : undefined;
}

/** What a channel end is told about credentials (from `ChannelEndOptions`). */
export interface CredentialSettings {
  /** What this end presents. */
  readonly credentials?: CredentialProvider;
  /** Whom it trusts to vouch for the peer (besides the authorities its trust policy names). */
  readonly authorities?: TrustedAuthorities;
  readonly clockSkewMs?: number;
}

const settingsCache = new WeakMap<object, CredentialSettings | undefined>();

/**
 * The credential settings of a channel end's options (made once per options object: a listener's serve
 * every handshake); undefined when it neither presents nor accepts credentials.
 */
export function credentialSettingsOf(
  options: {
    readonly credentials?: CredentialProvider | readonly Uint8Array[];
    readonly authorities?: readonly (Authority | Identity | Uint8Array | string)[];
    readonly clockSkewMs?: number;
  },
  vault: Vault,
): CredentialSettings | undefined {
  if (settingsCache.has(options)) return settingsCache.get(options);
  const { credentials, authorities, clockSkewMs } = options;
  let settings: CredentialSettings | undefined;
  if (credentials !== undefined || authorities !== undefined || clockSkewMs !== undefined) {
    if (
      clockSkewMs !== undefined &&
      (!Number.isInteger(clockSkewMs) || clockSkewMs < 0 || clockSkewMs > 86_400_000)
    ) {
      throw new SecureChannelError(
        'INVALID_OPTIONS',
        `clockSkewMs must be an integer in 0..86400000, got ${String(clockSkewMs)}`,
      );
    }
    settings = {
      ...(credentials === undefined
        ? {}
        : {
            credentials: Array.isArray(credentials)
              ? fixedCredentials(credentials as readonly Uint8Array[])
              : (credentials as CredentialProvider),
          }),
      ...(authorities === undefined ? {} : { authorities: TrustedAuthorities.of(vault, authorities) }),
      ...(clockSkewMs === undefined ? {} : { clockSkewMs }),
    };
  }
  settingsCache.set(options, settings);
  return settings;
}

/** The credentials this end presents now, bounded like the payload. */
export function presentedCredentials(settings: CredentialSettings): readonly Uint8Array[] {
  const list = settings.credentials?.current() ?? [];
  return list.slice(0, MAX_PRESENTED_CREDENTIALS);
}

/**
 * Verifies what the peer presented, for `identifier`: credentials from an issuer neither the settings nor
 * the trust policy trust are ignored (the peer may belong to several authorities); any other failure
 * (forged, another subject, expired, not yet valid, malformed) throws its `CredentialError`. Undefined when
 * nothing verified.
 */
export function verifyPresented(
  vault: Vault,
  list: readonly Uint8Array[],
  identifier: string,
  settings: CredentialSettings,
  trustPolicy: TrustPolicy,
): PeerCredentials | undefined {
  const verified = verifyList(vault, list, identifier, settings, trustPolicy);
  return verified.length === 0
    ? undefined
    : new PeerCredentials(verified, settings.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS);
}

function verifyList(
  vault: Vault,
  list: readonly Uint8Array[],
  identifier: string,
  settings: CredentialSettings,
  trustPolicy: TrustPolicy,
): VerifiedCredential[] {
  if (list.length === 0) return [];
  const authorities = authoritiesFor(vault, settings, trustPolicy);
  const verified: VerifiedCredential[] = [];
  for (const encoded of list) {
    try {
      verified.push(authorities.verify(encoded, identifier, { clockSkewMs: settings.clockSkewMs }));
    } catch (error) {
      if (!(error instanceof CredentialError) || error.code !== 'UNKNOWN_ISSUER') throw error;
    }
  }
  return verified;
}

const authoritiesCache = new WeakMap<TrustPolicy, TrustedAuthorities>();

function authoritiesFor(vault: Vault, settings: CredentialSettings, policy: TrustPolicy): TrustedAuthorities {
  const named = policy.authorities ?? [];
  if (named.length === 0) return settings.authorities ?? TrustedAuthorities.of(vault, []);
  // The union, made once per (policy, settings) pair that is used: handshakes run often.
  let merged = settings.authorities === undefined ? authoritiesCache.get(policy) : undefined;
  if (merged === undefined) {
    const own = settings.authorities?.identifiers ?? [];
    merged = TrustedAuthorities.of(vault, [...named, ...own.map((id) => settings.authorities!.get(id)!)]);
    if (settings.authorities === undefined) authoritiesCache.set(policy, merged);
  }
  return merged;
}

/** What an open channel end lets its credentials do. */
export interface ChannelCredentialHooks {
  /** Sends an authenticated CREDENTIALS frame (`0x06` and the list) to the peer. */
  sendRefresh(list: Uint8Array): void;
  /** Closes the channel: the peer's credentials expired (or changed) and the trust policy refuses it now. */
  close(detail: string): void;
  readonly logger: Logger;
}

/**
 * The credentials of one open channel end: renews what it presents over the channel when its provider
 * changes, accepts the peer's renewals, and, when the peer's credentials lapse, asks the trust policy again
 * and closes the channel if it no longer trusts the peer (access rules refuse at once regardless, since they
 * read the credentials' validity at each message).
 */
export class ChannelCredentials {
  private unsubscribe: (() => void) | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  /** Refresh frames from the peer that did not verify (dropped; the old credentials stay until they lapse). */
  rejectedRefreshes = 0;

  constructor(
    private readonly vault: Vault,
    private readonly settings: CredentialSettings,
    private readonly trustPolicy: TrustPolicy,
    private readonly remote: PeerIdentity | undefined,
    /** Whether this end presented credentials in its handshake: only then does it send renewals. */
    private readonly presentedAny: boolean,
  ) {}

  /** Starts watching (once the channel is open). */
  start(hooks: ChannelCredentialHooks): void {
    // Sent whether or not the peer presented any: a peer that does not know credentials drops the frame
    // (an unknown payload kind), and one that has none to present may still check ours.
    if (this.settings.credentials?.onChange !== undefined && this.presentedAny) {
      this.unsubscribe = this.settings.credentials.onChange(() => {
        if (!this.disposed) hooks.sendRefresh(encodeCredentialList(presentedCredentials(this.settings)));
      });
    }
    this.scheduleExpiry(hooks);
  }

  /** A CREDENTIALS frame from the peer (the list, after the kind byte). */
  receiveRefresh(bytes: Uint8Array, hooks: ChannelCredentialHooks): void {
    const remote = this.remote;
    const list = decodeCredentialList(bytes);
    if (remote === undefined || list === undefined) {
      this.rejectedRefreshes++;
      hooks.logger.warn({ remote: remote?.identifier }, 'dropped a malformed credentials frame');
      return;
    }
    let verified: VerifiedCredential[];
    try {
      verified = verifyList(this.vault, list, remote.identifier, this.settings, this.trustPolicy);
    } catch (error) {
      this.rejectedRefreshes++;
      hooks.logger.warn(
        { remote: remote.identifier, code: (error as CredentialError).code },
        'dropped credentials that do not verify',
      );
      return;
    }
    if (remote.credentials === undefined) {
      hooks.logger.warn({ remote: remote.identifier }, 'dropped credentials from a peer that presented none');
      return;
    }
    remote.credentials.replace(verified);
    hooks.logger.debug({ remote: remote.identifier }, 'the peer renewed its credentials');
    this.scheduleExpiry(hooks);
    // The new credentials may give other attributes: the trust policy is asked again.
    void this.recheck(hooks, 'its renewed credentials');
  }

  dispose(): void {
    this.disposed = true;
    this.unsubscribe?.();
    clearTimeout(this.expiryTimer);
  }

  private scheduleExpiry(hooks: ChannelCredentialHooks): void {
    clearTimeout(this.expiryTimer);
    const until = this.remote?.credentials?.validUntil;
    if (until === undefined || this.trustPolicy.needsCredentials !== true) return;
    // Node's timers take at most 2^31-1 ms; a later expiry is looked at again then.
    const delay = Math.min(Math.max(0, until - Date.now()), 2_147_483_647);
    this.expiryTimer = setTimeout(() => void this.onExpiry(hooks), delay);
    this.expiryTimer.unref();
  }

  private async onExpiry(hooks: ChannelCredentialHooks): Promise<void> {
    const until = this.remote?.credentials?.validUntil;
    if (this.disposed || until === undefined) return;
    if (until > Date.now()) return this.scheduleExpiry(hooks); // renewed meanwhile
    await this.recheck(hooks, 'its credentials expired');
  }

  private async recheck(hooks: ChannelCredentialHooks, why: string): Promise<void> {
    if (this.remote === undefined || this.trustPolicy.needsCredentials !== true) return;
    let trusted = false;
    try {
      trusted = await this.trustPolicy.check(this.remote);
    } catch {
      trusted = false;
    }
    if (!trusted && !this.disposed) {
      hooks.close(`trust policy ${this.trustPolicy.name} refuses ${this.remote.identifier}: ${why}`);
    }
  }
}
