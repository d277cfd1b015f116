import type { DeliveryFailureCode } from '../core/delivery-failure';
import { TransportError } from './errors';

/** What a delivery failure notice says about a message a connection could not carry, by its close reason. */
export function failureCode(reason: TransportError | undefined): DeliveryFailureCode {
  if (reason === undefined) return 'UNDELIVERABLE';
  if (reason.code !== 'CONNECT_FAILED') return 'CONNECTION_LOST';
  let cause: unknown = reason.cause;
  while (cause instanceof TransportError) cause = cause.cause;
  const errno = (cause as { code?: unknown } | undefined)?.code;
  return errno === 'ECONNREFUSED' ? 'CONNECTION_REFUSED' : 'UNREACHABLE';
}

/** Why a stream closed, as its close reason says it: `CONNECT_FAILED` before it connected, else `CONNECTION_CLOSED`. */
export function streamClosedReason(
  remote: string,
  connecting: boolean,
  error: Error | undefined,
  interruption: string | undefined,
): TransportError {
  if (connecting) {
    const why = error === undefined ? 'the connection closed' : describe(error);
    return new TransportError('CONNECT_FAILED', `cannot connect to ${remote}: ${why}`, { cause: error });
  }
  let why =
    error === undefined ? 'the peer closed the connection' : `the connection failed: ${describe(error)}`;
  if (interruption !== undefined) why += ` ${interruption}`;
  return new TransportError('CONNECTION_CLOSED', why, { cause: error });
}

function describe(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code !== 'string' ? error.message : `${code} (${error.message})`;
}
