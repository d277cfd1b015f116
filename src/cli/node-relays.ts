/** The relays of a declarative node: forwarders it keeps registered at a hub, or at one of several. */
import {
  FailoverForwarder,
  ForwardingAddress,
  RemoteForwarder,
  TCP,
  nodeMetrics,
  route,
  type Context,
  type Identity,
  type MemberCredentials,
} from '../index';
import type { Relay } from './node-status';
import { CliError } from './output';

/** The events both kinds of forwarder emit, as a relay's state follows them. */
interface RelayEvents {
  on(event: 'registered' | 'lost' | 'failed', listener: () => void): unknown;
}

/** What a relay is asked to be: the hubs (one, or several to fail over among), its name, where it delivers. */
export interface RelaySpec {
  readonly hubs: readonly string[];
  readonly name: string | undefined;
  readonly to: string;
}

/**
 * Registers a relay delivering to `spec.to`, tracked in the node's metrics: at its one hub (a
 * `RemoteForwarder`, which reconnects to it), or, given several, at whichever takes it, moving to the next
 * when that hub is lost (a `FailoverForwarder`: hubs of one federation; the name must be bound). Resolves
 * with the relay and its forwarding address.
 */
export async function registerRelay(
  ctx: Context,
  identity: Identity,
  credentials: MemberCredentials | undefined,
  spec: RelaySpec,
): Promise<{ relay: Relay; address: string }> {
  const { hubs, name, to } = spec;
  // From a node file (checked by its schema) or the control socket (checked here).
  if (!Array.isArray(hubs) || hubs.length === 0 || hubs.some((hub) => typeof hub !== 'string')) {
    throw new CliError('USAGE', 'a relay needs at least one hub (host:port)');
  }
  const bound =
    name === undefined ? {} : { name, identity, ...(credentials ? { credential: credentials } : {}) };
  let forwarder: RemoteForwarder | FailoverForwarder;
  let relay: Relay;
  if (hubs.length === 1) {
    forwarder = await RemoteForwarder.create(ctx, route([TCP, hubs[0]!]), to, bound);
    relay = { hub: hubs[0]!, to, forwarder, registered: true };
  } else {
    if (name === undefined) {
      throw new CliError('USAGE', 'a relay with several hubs fails over among them by its name: give a name');
    }
    const failover = await FailoverForwarder.create(ctx, hubs, to, { ...bound, name, identity });
    forwarder = failover;
    relay = { hub: failover.hub ?? hubs.join(','), to, forwarder, registered: true };
    failover.on('registered', (hub) => (relay.hub = hub));
  }
  nodeMetrics(ctx.node).trackRemoteForwarder(forwarder);
  const events: RelayEvents = forwarder;
  events.on('registered', () => (relay.registered = true));
  events.on('lost', () => (relay.registered = false));
  events.on('failed', () => (relay.registered = false));
  return { relay, address: ForwardingAddress.of(forwarder, identity).format() };
}
