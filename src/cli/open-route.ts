/** Typed routes (route-text.ts) turned into routes on a node, opening the secure channels they name. */
import {
  SecureChannel,
  TCP,
  TrustAnyIdentity,
  TrustIdentifier,
  WS,
  WebSocketTransport,
  createSecureChannel,
  type SecureChannelOptions,
  nodeMetrics,
  route,
  type Context,
  type Identity,
  type NodeRuntime,
  type RoutePart,
} from '../index';
import { parseRouteText } from './route-text';

/** `host:port` split (an IPv6 host in brackets loses them). */
export function splitHostPort(text: string): [string, string] {
  const colon = text.lastIndexOf(':');
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return [host, text.slice(colon + 1)];
}

const webSockets = new WeakMap<NodeRuntime, Promise<WebSocketTransport>>();

/** The node's WebSocket transport, started on first use (one per node). */
export function webSocketTransport(node: NodeRuntime, ctx: Context): Promise<WebSocketTransport> {
  let transport = webSockets.get(node);
  if (transport === undefined) {
    transport = WebSocketTransport.create(ctx);
    webSockets.set(node, transport);
  }
  return transport;
}

/**
 * Follows a typed route (route-text.ts), opening each secure channel it names, timed in the node's
 * metrics. Resolves with the route to send on and the last channel opened, if any.
 */
export async function openRoute(
  ctx: Context,
  node: NodeRuntime,
  identity: Identity,
  text: string,
  channelOptions: Omit<SecureChannelOptions, 'trustPolicy'> = {},
): Promise<{ route: ReturnType<typeof route>; last: SecureChannel | undefined }> {
  const steps = parseRouteText(text);
  let parts: RoutePart[] = [];
  let last: SecureChannel | undefined;
  for (const step of steps) {
    if (step.kind === 'tcp' || step.kind === 'ws') {
      if (step.kind === 'ws') await webSocketTransport(node, ctx);
      parts.push([step.kind === 'ws' ? WS : TCP, step.hostPort]);
    } else if (step.kind === 'service') parts.push(step.address);
    else {
      const trustPolicy = step.trust === 'any-identity' ? TrustAnyIdentity : TrustIdentifier(step.trust);
      last = await nodeMetrics(node).timeHandshake(
        createSecureChannel(ctx, identity, route(...parts), { ...channelOptions, trustPolicy }),
      );
      parts = [last];
    }
  }
  return { route: route(...parts), last };
}
