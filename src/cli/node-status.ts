/** What a running declarative node reports to `sealroute status` (and `status --json` prints). */
import {
  DROP_REASONS,
  type AuthorityService,
  type AuthorityStats,
  ForwardingAddress,
  type DropReason,
  type ForwarderInfo,
  type Identity,
  type MetricsSnapshot,
  type NodeRuntime,
  type FailoverForwarder,
  type RemoteForwarder,
  type SecureChannel,
  type TcpInlet,
  type TcpOutlet,
} from '../index';

/** What `status` reports (and `status --json` prints). */
export interface NodeStatus {
  readonly name: string;
  readonly identifier: string;
  readonly pid: number;
  readonly uptimeSeconds: number;
  readonly ready: boolean;
  readonly tcpListeners: readonly string[];
  readonly wsListeners: readonly string[];
  readonly connections: readonly { address: string; remote: string; outgoing: boolean }[];
  readonly listeners: readonly { address: string; trust: string; channels: number }[];
  readonly channels: readonly {
    address: string;
    remoteIdentifier: string | null;
    role: 'initiator' | 'responder';
    since: string;
  }[];
  readonly forwarders: {
    readonly hosted: readonly { address: string; name: string | null; owner: string | null }[];
    readonly relays: readonly {
      hub: string;
      forwardingAddress: string | null;
      to: string;
      registered: boolean;
    }[];
  };
  readonly portals: readonly {
    side: 'inlet' | 'outlet';
    /** The outlet's address, or the inlet's bound `host:port`. */
    address: string;
    /** The outlet's target `host:port`, or the inlet's route. */
    to: string;
    sessionsActive: number;
    sessionsOpened: number;
    bytesSent: number;
    bytesReceived: number;
  }[];
  readonly deadLetters: { readonly total: number; readonly byReason: Readonly<Record<DropReason, number>> };
  /** The authority this node runs, if any, and its counters. */
  readonly authority: (AuthorityStats & { readonly identifier: string }) | null;
  readonly metrics: MetricsSnapshot;
}

/** A relay a node registered at a hub, as the node keeps it (`hub`: where it is registered now). */
export interface Relay {
  hub: string;
  readonly to: string;
  forwarder: RemoteForwarder | FailoverForwarder | undefined;
  registered: boolean;
}

/** Anything with connections to list (the TCP and WebSocket transports). */
interface Connected {
  connections(): readonly { address: { toString(): string }; remote: string; outgoing: boolean }[];
}

type Status<K extends keyof NodeStatus> = NodeStatus[K];

export const connectionsOf = (transport: Connected): Status<'connections'>[number][] =>
  transport
    .connections()
    .map((c) => ({ address: c.address.toString(), remote: c.remote, outgoing: c.outgoing }));

export const channelStatus = (
  channel: SecureChannel,
  since: number | undefined,
): Status<'channels'>[number] => ({
  address: channel.address.toString(),
  remoteIdentifier: channel.remoteIdentifier ?? null,
  role: channel.isInitiator ? 'initiator' : 'responder',
  since: new Date(since ?? Date.now()).toISOString(),
});

export const hostedStatus = (f: ForwarderInfo): Status<'forwarders'>['hosted'][number] => ({
  address: f.address.toString(),
  name: f.name ?? null,
  owner: f.owner ?? null,
});

export const relayStatus = (relay: Relay, identity: Identity): Status<'forwarders'>['relays'][number] => ({
  hub: relay.hub,
  forwardingAddress:
    relay.forwarder === undefined ? null : ForwardingAddress.of(relay.forwarder, identity).format(),
  to: relay.to,
  registered: relay.registered,
});

export const portalStatus = ({
  end,
  address,
  to,
}: {
  end: TcpOutlet | TcpInlet;
  address: string;
  to: string;
}): Status<'portals'>[number] => ({
  side: end.side,
  address,
  to,
  sessionsActive: end.stats.sessionsActive,
  sessionsOpened: end.stats.sessionsOpened,
  bytesSent: end.stats.bytesSent,
  bytesReceived: end.stats.bytesReceived,
});

export const authorityStatus = (
  service: AuthorityService | undefined,
  identity: Identity,
): Status<'authority'> =>
  service === undefined ? null : { identifier: identity.identifier, ...service.stats() };

export const deadLettersOf = (node: NodeRuntime): Status<'deadLetters'> => ({
  total: node.deadLetters.count,
  byReason: Object.fromEntries(DROP_REASONS.map((r) => [r, node.deadLetters.countOf(r)])) as Record<
    DropReason,
    number
  >,
});
