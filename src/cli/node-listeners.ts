/**
 * A declarative node's secure channel listeners, with trust that a reload (SIGHUP) may change: each
 * listener asks its entry's current policy on every handshake, so a new file changes whom it accepts next
 * (open channels stay).
 */
import {
  createSecureChannelListener,
  nodeMetrics,
  type Context,
  type Identity,
  type SecureChannel,
  type SecureChannelListener,
  type SecureChannelListenerOptions,
  type TrustPolicy,
} from '../index';
import type { NodeConfig } from './config';
import type { NodeStatus } from './node-status';
import { trustPolicy, trustText } from './node-workers';

type Entry = NodeConfig['secureChannelListeners'][number];

/** The authority a policy checks credentials from, if any: a reload may not change it. */
const authorityOf = (policy: TrustPolicy): string =>
  (policy.authorities ?? []).map((authority) => authority.identifier).join(',');

/** The listeners a configuration declares. */
export class ConfiguredListeners {
  private readonly byAddress = new Map<
    string,
    { listener: SecureChannelListener; policy: { current: TrustPolicy; text: string } }
  >();

  /** Starts the listener of `entry`; `onChannel` learns of each channel it opens. */
  async start(
    ctx: Context,
    identity: Identity,
    entry: Entry,
    options: Omit<SecureChannelListenerOptions, 'trustPolicy'>,
    onChannel: (channel: SecureChannel) => void,
  ): Promise<void> {
    const policy = { current: trustPolicy(entry.trust), text: JSON.stringify(entry.trust) };
    // The authorities whose credentials the channel checks come from the policy it starts with; a reload
    // may change whom it accepts, not which authority (see `reloadTrust`).
    const live: TrustPolicy = {
      name: `config(${entry.address})`,
      check: (peer) => policy.current.check(peer),
      ...(policy.current.authorities === undefined ? {} : { authorities: policy.current.authorities }),
      ...(policy.current.needsCredentials === true ? { needsCredentials: true } : {}),
    };
    const listener = await createSecureChannelListener(ctx, identity, entry.address, {
      ...options,
      trustPolicy: live,
    });
    nodeMetrics(ctx.node).trackListener(listener);
    listener.on('channelOpened', onChannel);
    this.byAddress.set(entry.address, { listener, policy });
  }

  /** The listeners as `status` shows them. */
  status(): NodeStatus['listeners'] {
    return [...this.byAddress].map(([address, { listener, policy }]) => ({
      address,
      trust: policy.text,
      channels: listener.channels.size,
    }));
  }

  /**
   * Applies the trust of `next`'s entries to the running listeners of the same address; returns one line
   * per change. (Listeners added or removed need a restart: the caller says so.)
   */
  reloadTrust(next: readonly Entry[]): string[] {
    const lines: string[] = [];
    const entries = new Map(next.map((entry) => [entry.address, entry]));
    for (const [address, { policy }] of this.byAddress) {
      const entry = entries.get(address);
      if (entry === undefined) continue;
      const text = JSON.stringify(entry.trust);
      if (text !== policy.text) {
        const next = trustPolicy(entry.trust);
        if (authorityOf(next) !== authorityOf(policy.current)) {
          lines.push(`listener ${address}: trust by another authority: restart the node to apply it`);
          continue;
        }
        policy.current = next;
        policy.text = text;
        lines.push(`listener ${address}: trust is now ${trustText(entry.trust)}`);
      }
    }
    return lines;
  }
}

/**
 * Applies a new configuration where that is safe: the trust of existing listeners changes at once (the
 * next handshake is judged by it; open channels stay). Anything else that changed is reported as needing a
 * restart and left as it was. Returns one line per change, and the configuration now in force.
 */
export function reloadConfig(
  current: NodeConfig,
  next: NodeConfig,
  listeners: ConfiguredListeners,
): { lines: string[]; config: NodeConfig } {
  const lines = listeners.reloadTrust(next.secureChannelListeners);
  const unsafe: string[] = (
    [
      'identity',
      'name',
      'vault',
      'tcp',
      'ws',
      'hub',
      'authority',
      'authorities',
      'credential',
      'tracing',
      'relays',
      'workers',
      'control',
      'metrics',
    ] as const
  ).filter((key) => JSON.stringify(current[key]) !== JSON.stringify(next[key]));
  const listenerSet = (config: NodeConfig): string =>
    JSON.stringify(config.secureChannelListeners.map((entry) => entry.address).sort());
  if (listenerSet(current) !== listenerSet(next)) unsafe.push('secureChannelListeners');
  for (const key of unsafe) lines.push(`${key} changed: restart the node to apply it`);
  const nextListeners = new Map(next.secureChannelListeners.map((entry) => [entry.address, entry]));
  const config = {
    ...current,
    secureChannelListeners: current.secureChannelListeners.map(
      (entry) => nextListeners.get(entry.address) ?? entry,
    ),
  };
  return { lines, config };
}
