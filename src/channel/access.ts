import type { Address } from '../core/address';
import type { LocalMessage, Routed } from '../core/message';
import type { PeerIdentity, TrustPolicy } from '../identity';
import type { AccessRule } from '../node/worker';

/** The `localInfo` key under which a decryptor records the channel a message arrived through. */
export const SECURE_CHANNEL_INFO = 'secureChannel';

/** What a decryptor attaches to every message it decrypts (`localInfo.secureChannel`). */
export interface SecureChannelInfo {
  /** The peer's authenticated identifier; undefined for an anonymous NK initiator. */
  readonly identifier: string | undefined;
  /** The peer's identity (identifier and Ed25519 public key); undefined when anonymous. */
  readonly identity: PeerIdentity | undefined;
  /** The local encryptor address of the channel: replies sent there go back through it. */
  readonly channel: Address;
}

/** The secure channel a message arrived through, or undefined if it did not come through one. */
export function secureChannelInfoOf(message: Routed | LocalMessage): SecureChannelInfo | undefined {
  return message.localInfo[SECURE_CHANNEL_INFO] as SecureChannelInfo | undefined;
}

/**
 * The authenticated identifier of the peer that sent `message` through a secure channel; undefined when it
 * did not arrive through one (or its sender was an anonymous NK initiator).
 */
export function remoteIdentifierOf(message: Routed | LocalMessage): string | undefined {
  return secureChannelInfoOf(message)?.identifier;
}

/**
 * An access rule that admits only messages that arrived through a secure channel; with a trust policy,
 * only those whose sender's identity it trusts; with a list, only those from one of the identifiers listed.
 * The runtime drops, counts and logs what it refuses, with the reason.
 */
export function fromSecureChannel(policy?: TrustPolicy | readonly string[]): AccessRule {
  const notThrough = 'it did not arrive through a secure channel';
  if (policy === undefined) {
    return {
      name: 'fromSecureChannel',
      check: (message) => (secureChannelInfoOf(message) === undefined ? notThrough : true),
    };
  }
  if (Array.isArray(policy)) {
    const allowed = new Set<string>(policy as readonly string[]);
    return {
      name: `fromSecureChannel([${[...allowed].join(', ')}])`,
      check: (message) => {
        const info = secureChannelInfoOf(message);
        if (info === undefined) return notThrough;
        if (info.identifier === undefined) return 'its sender is anonymous';
        return allowed.has(info.identifier) ? true : `identifier ${info.identifier} is not allowed`;
      },
    };
  }
  const trust = policy as TrustPolicy;
  return {
    name: `fromSecureChannel(${trust.name})`,
    check: (message) => {
      const info = secureChannelInfoOf(message);
      if (info === undefined) return notThrough;
      if (info.identity === undefined) return 'its sender is anonymous';
      const refused = `trust policy ${trust.name} refused ${info.identifier}`;
      const verdict = trust.check(info.identity);
      return typeof verdict === 'boolean'
        ? verdict || refused
        : verdict.then((trusted) => trusted || refused);
    },
  };
}
