import { SealrouteError } from '../core/errors';

/** Errors of the runtime: addresses, workers and the node's own lifecycle. */
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
      | 'MAILBOX_FULL',
    message: string,
    options?: { cause?: unknown },
  ) {
    super('node', code, message, options);
  }
}
