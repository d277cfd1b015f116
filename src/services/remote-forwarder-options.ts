import type { Address } from '../core/address';
import type { CredentialProvider } from '../identity/credential-provider';
import type { Identity } from '../identity/identity';
import { ServicesError } from './errors';
import { FORWARDER_NAME } from './forwarding-messages';

/**
 * How a `RemoteForwarder` behaves. Every field but `name` and `identity` has a default
 * (`REMOTE_FORWARDER_DEFAULTS`).
 */
export interface RemoteForwarderOptions {
  /**
   * Register under this name (`fwd.n.<name>` on the hub) instead of a random address (`fwd.r.<32 hex>`):
   * 1..63 of `a-z 0-9 _ -`, starting with a letter or a digit (`FORWARDER_NAME`).
   */
  readonly name?: string;
  /**
   * Bind the name to this identity: the registration is signed by it (over the hub's fresh challenge), and
   * the name then goes back to this identity only, at once, after a reconnect, after this process restarts
   * (same identity, e.g. from a `FileVault`) and after the hub restarts (if it keeps a state file). Needs
   * `name`. Without it, the name is held by the token the first registration returned, which lives in this
   * process only.
   */
  readonly identity?: Identity;
  /**
   * With `identity`: the credential to present with each registration, for a hub that admits forwarders
   * by credential (`relay=<name>` from its authority, see `relayAdmission`). The provider's current first
   * credential is sent, so a re-registration after a reconnect carries the renewed one; when the provider
   * changes (`onChange`, as `MemberCredentials` renews), the forwarder registers again with the new one, so
   * that the hub, which admits it only until the old one expires, keeps forwarding.
   */
  readonly credential?: CredentialProvider;
  /** The forwarding service's address on the hub. */
  readonly service?: string;
  /** How often the hub is asked whether the forwarder is still there. */
  readonly heartbeatIntervalMs?: number;
  /** How long a heartbeat waits for its answer before the hub is considered lost. */
  readonly heartbeatTimeoutMs?: number;
  /** How long a registration waits for its answer. */
  readonly registrationTimeoutMs?: number;
  /** The first delay between attempts to register again after the hub was lost; it doubles each time. */
  readonly reconnectInitialMs?: number;
  /** The longest delay between attempts. */
  readonly reconnectMaxMs?: number;
  /** Attempts before giving up (`'failed'` is emitted and the forwarder stops). Default: never give up. */
  readonly maxReconnectAttempts?: number;
  /**
   * Local workers a sender may name after the forwarding address (`[TCP, hub] => forwardingAddress =>
   * 'echoer'`). Default: only the first hop of `destination`. Whatever the list, a route that goes on to a
   * transport hop (`[TCP, host:port]`) or anywhere not listed is refused (`access-denied`): a forwarder is a
   * way in to named workers, never a way through this node.
   */
  readonly deliverTo?: readonly (string | Address)[];
}

/** The defaults of `RemoteForwarderOptions`. */
export const REMOTE_FORWARDER_DEFAULTS = Object.freeze({
  service: 'forwarding_service',
  heartbeatIntervalMs: 5_000,
  heartbeatTimeoutMs: 5_000,
  registrationTimeoutMs: 10_000,
  reconnectInitialMs: 250,
  reconnectMaxMs: 10_000,
  maxReconnectAttempts: Infinity,
});

/** Events a `RemoteForwarder` emits. */
export interface RemoteForwarderEvents {
  /** Registered (again) at the hub, at this forwarding address. */
  registered: [forwardingAddress: string];
  /** The hub, or the forwarder on it, was lost; re-registration has begun. */
  lost: [reason: Error];
  /** Gave up re-registering after `maxReconnectAttempts`; the forwarder has stopped. */
  failed: [reason: Error];
}

/** Throws `ServicesError` (`INVALID_NAME`, `INVALID_REQUEST`) for options that do not go together. */
export function checkRemoteForwarderOptions(options: RemoteForwarderOptions): void {
  if (options.name !== undefined && !FORWARDER_NAME.test(options.name)) {
    throw new ServicesError('INVALID_NAME', `invalid forwarder name ${JSON.stringify(options.name)}`);
  }
  if (options.identity !== undefined && options.name === undefined) {
    throw new ServicesError('INVALID_REQUEST', 'an identity binds a name: give a name with it');
  }
  if (options.credential !== undefined && options.identity === undefined) {
    throw new ServicesError(
      'INVALID_REQUEST',
      'a credential is presented with an identity: give one with it',
    );
  }
}
