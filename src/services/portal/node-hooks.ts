import type { Address } from '../../core/address';
import type { Context } from '../../node/context';

/**
 * The two node events a portal follows: a worker stopping (a channel's encryptor, which ends the sessions
 * through it) and the node stopping (which closes the inlet or outlet). Kept in one place: the only reach
 * into the node beyond `Context`. Returns the function that removes both listeners.
 */
export function followNode(
  ctx: Context,
  workerStopped: (address: Address) => void,
  stopping: () => void,
): () => void {
  const node = ctx.node;
  node.on('workerStopped', workerStopped);
  node.on('stopping', stopping);
  return () => {
    node.off('workerStopped', workerStopped);
    node.off('stopping', stopping);
  };
}
