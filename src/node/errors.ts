import type { DeliveryFailureCode } from '../core/delivery-failure';
import { SealrouteError } from '../core/errors';

/**
 * Errors of the runtime: addresses, workers and the node's own lifecycle. A request whose message was
 * dropped on its way rejects with the `DeliveryFailureCode` of the node that dropped it (`NO_ROUTE`,
 * `ACCESS_DENIED`, `CONNECTION_REFUSED`...); `cause` holds the local error when it was this node.
 */
export class NodeError extends SealrouteError {
  override readonly name = 'NodeError';
  constructor(
    code:
      | 'ADDRESS_IN_USE'
      | 'NO_ROUTE'
      | 'NODE_STOPPED'
      | 'WORKER_STOPPED'
      | 'WORKER_NOT_FOUND'
      | 'INITIALIZE_FAILED'
      | 'RECEIVE_UNSUPPORTED'
      | 'MAILBOX_FULL'
      | DeliveryFailureCode
      | 'INVALID_OPTION',
    message: string,
    options?: { cause?: unknown },
  ) {
    super('node', code, message, options);
  }
}
