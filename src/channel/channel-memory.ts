import { ByteBudget } from '../node/byte-budget';
import type { NodeRuntime } from '../node/node-runtime';
import { SECURE_CHANNEL_DEFAULTS } from './options';

const budgets = new WeakMap<NodeRuntime, ByteBudget>();

/**
 * The bytes all secure channel ends of `node` together may hold for messages they have not delivered yet:
 * chunked messages in reassembly and frames held back to restore sending order. Default
 * `SECURE_CHANNEL_DEFAULTS.maxReceiveBytesPerNode` (128 MiB); set `secureChannelMemory(node).limit` to
 * change it. A channel end that would go over it gives up its own oldest partial message or the gap it is
 * waiting on (counted, logged, reported), never another channel's.
 */
export function secureChannelMemory(node: NodeRuntime): ByteBudget {
  let budget = budgets.get(node);
  if (budget === undefined) {
    budget = new ByteBudget(SECURE_CHANNEL_DEFAULTS.maxReceiveBytesPerNode, 'maxReceiveBytesPerNode');
    budgets.set(node, budget);
  }
  return budget;
}
