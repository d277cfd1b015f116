import { TrustEveryone, type TrustPolicy } from '../identity';
import type { NodeRuntime } from '../node/node-runtime';

/** Nodes already warned: once per node is enough to be noticed and not enough to flood a log. */
const warned = new WeakSet<NodeRuntime>();

/**
 * Logs a warning, once per node, when a listener or channel uses `TrustEveryone`: its channels are
 * encrypted but unauthenticated, which protects against a passive observer only, not against a hub (or
 * anyone on the route) that runs its own listener in the middle.
 */
export function warnOfTrustEveryone(
  node: NodeRuntime,
  policy: TrustPolicy,
  by: 'listener' | 'channel',
): void {
  if (policy !== TrustEveryone || warned.has(node)) return;
  warned.add(node);
  node.logger.warn(
    { trustPolicy: policy.name, by },
    'a secure channel uses TrustEveryone: encrypted, but anyone on the route can sit in the middle ' +
      '(use TrustIdentifier, a ForwardingAddress, or TrustAnyIdentity for a public listener)',
  );
}
