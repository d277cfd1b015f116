import type { DeliveryFailureCode } from '../core/delivery-failure';
import { SealrouteError } from '../core/errors';

/** The runtime's own codes of `NodeError` (a dropped request also rejects with a `DeliveryFailureCode`). */
export const NODE_ERROR_CODES = [
  /** A worker or context was started at an address already taken. */
  'ADDRESS_IN_USE',
  /** An address the node cannot use there (a non-local address registered, a router for LOCAL). */
  'INVALID_ADDRESS',
  /** A worker started without any address. */
  'NO_ADDRESS',
  /** `startWorker(Class)` on a node that has no worker factory (made without `createNode()`). */
  'NO_WORKER_FACTORY',
  'NODE_STOPPED',
  'WORKER_STOPPED',
  /** `stopWorker` of an address where no worker runs. */
  'WORKER_NOT_FOUND',
  'INITIALIZE_FAILED',
  /** `receive` on a worker's context (workers receive in `handleMessage`). */
  'RECEIVE_UNSUPPORTED',
  /** A full mailbox stayed full for `sendTimeoutMs`. */
  'MAILBOX_FULL',
  /** A node or worker option out of its range. */
  'INVALID_OPTION',
] as const;

/** Every code a `NodeError` carries. */
export type NodeErrorCode = (typeof NODE_ERROR_CODES)[number] | DeliveryFailureCode;

/**
 * Errors of the runtime: addresses, workers and the node's own lifecycle. A request whose message was
 * dropped on its way rejects with the `DeliveryFailureCode` of the node that dropped it (`NO_ROUTE`,
 * `ACCESS_DENIED`, `CONNECTION_REFUSED`...); `cause` holds the local error when it was this node.
 */
export class NodeError extends SealrouteError<NodeErrorCode> {
  override readonly name = 'NodeError';
  constructor(code: NodeErrorCode, message: string, options?: { cause?: unknown }) {
    super('node', code, message, options);
  }
}
