import type { Address } from '../core/address';
import {
  MessageOrigin,
  ORIGIN_INFO,
  originOf,
  type LocalInfo,
  type LocalMessage,
  type Routed,
} from '../core/message';
import type { PeerCredentials, PeerIdentity, TrustPolicy } from '../identity';
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
  /**
   * The peer's verified credentials (kept current by its refresh frames): read its attributes with
   * `credentials.attributes()` (or `remoteAttributesOf(message)`), which gives only those still valid now.
   * Undefined when it presented none this end trusts.
   */
  readonly credentials?: PeerCredentials;
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
 * The secure channels a message came out of on this node, in order (the outermost first, the one that
 * decrypted it last at the end): more than one when a channel runs inside another. Empty when it did not
 * come through a channel.
 */
export function secureChannelPathOf(message: Routed | LocalMessage): SecureChannelInfo[] {
  const origin = originOf(message);
  const path: SecureChannelInfo[] = [];
  if (origin !== undefined) {
    for (const hop of origin.hops) if (hop.kind === 'channel') path.push(hop.info as SecureChannelInfo);
  }
  if (path.length === 0) {
    // Set by hand by a worker of this node (tests, bridges): its word is taken as a single channel.
    const info = secureChannelInfoOf(message);
    if (info !== undefined) path.push(info);
  }
  return path;
}

/** Options of `fromSecureChannel`. */
export interface FromSecureChannelOptions {
  /**
   * Which channels on the message's path the policy or list must accept: `'every'` (default) one of them,
   * so that a message that came through an untrusted peer anywhere on this node is refused; or only the
   * `'last'` (the innermost: whoever sent it end to end), for a channel run inside a channel to a relay
   * whose identity the policy does not name.
   */
  readonly path?: 'every' | 'last';
}

/**
 * An access rule that admits only messages that arrived through a secure channel; with a trust policy,
 * only those whose senders' identities it trusts; with a list, only those from identifiers listed. It looks
 * at the whole path the message came by (every channel it came out of on this node, see `path`), not only
 * the last. The runtime drops, counts and logs what it refuses, with the reason.
 */
export function fromSecureChannel(
  policy?: TrustPolicy | readonly string[],
  options: FromSecureChannelOptions = {},
): AccessRule {
  const notThrough = 'it did not arrive through a secure channel';
  const lastOnly = options.path === 'last';
  /** The channels to judge: all of the path, or its last. */
  const judged = (message: LocalMessage): SecureChannelInfo[] | undefined => {
    const path = secureChannelPathOf(message);
    if (path.length === 0) return undefined;
    return lastOnly ? path.slice(-1) : path;
  };
  if (policy === undefined) {
    return {
      name: 'fromSecureChannel',
      check: (message) => (judged(message) === undefined ? notThrough : true),
    };
  }
  if (Array.isArray(policy)) {
    const allowed = new Set<string>(policy as readonly string[]);
    return {
      name: `fromSecureChannel([${[...allowed].join(', ')}])`,
      check: (message) => {
        const channels = judged(message);
        if (channels === undefined) return notThrough;
        for (const info of channels) {
          if (info.identifier === undefined) return 'its sender is anonymous';
          if (!allowed.has(info.identifier)) return `identifier ${info.identifier} is not allowed`;
        }
        return true;
      },
    };
  }
  const trust = policy as TrustPolicy;
  return {
    name: `fromSecureChannel(${trust.name})`,
    check: (message) => {
      const channels = judged(message);
      if (channels === undefined) return notThrough;
      const pending: Promise<boolean | string>[] = [];
      for (const info of channels) {
        if (info.identity === undefined) return 'its sender is anonymous';
        const refused = `trust policy ${trust.name} refused ${info.identifier}`;
        const verdict = trust.check(info.identity);
        if (typeof verdict === 'boolean') {
          if (!verdict) return refused;
        } else {
          pending.push(verdict.then((trusted) => trusted || refused));
        }
      }
      if (pending.length === 0) return true;
      return Promise.all(pending).then((verdicts) => verdicts.find((v) => v !== true) ?? true);
    },
  };
}

/**
 * The local info of messages decrypted by the channel `info.channel` from frames that came with local info
 * `via`: the channel's info, and an origin that is the frames' path followed by this channel.
 */
export function decryptedInfo(info: SecureChannelInfo, via: LocalInfo | undefined): LocalInfo {
  const hop = { kind: 'channel', producer: info.channel, info } as const;
  const before = via === undefined ? undefined : originOf({ localInfo: via });
  return Object.freeze({
    [SECURE_CHANNEL_INFO]: info,
    [ORIGIN_INFO]: before === undefined ? MessageOrigin.of(hop) : before.then(hop),
  });
}
