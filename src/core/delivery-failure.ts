import { LOCAL, type Address } from './address';
import { DecodeError } from './errors';

/**
 * Why a message did not arrive, as a delivery failure notice (docs/PROTOCOL.md section 2.1) says it. The
 * codes are deliberately coarse: a notice says which kind of failure, never what an access rule checked or
 * which address was missing.
 * - `NO_ROUTE`: nothing is registered at a hop (an unknown worker, a stale forwarding address, a node without
 *   the transport the route needs, a stopped worker).
 * - `ACCESS_DENIED`: an access rule of the receiving worker refused it.
 * - `WRONG_BODY_TYPE`: the body is not of the codec the receiving worker declared.
 * - `CONNECTION_REFUSED`: a transport hop could not connect: the peer refused (`ECONNREFUSED`).
 * - `UNREACHABLE`: a transport hop could not connect for another reason (timeout, no route to the host).
 * - `INVALID_ADDRESS`: a transport address in the route does not parse.
 * - `CONNECTION_LOST`: the connection it was queued on closed before it was written.
 * - `TOO_LARGE`: it is larger than a hop accepts.
 * - `CHANNEL_CLOSED`: the secure channel it was sent through is closed.
 * - `PEER_UNRESPONSIVE`: the channel it was sent through closed because the peer stopped answering.
 * - `NODE_STOPPED`: the node that held it stopped.
 * - `CONGESTED`: a relay's queue toward the next hop (a hub's client that reads slowly or not at all) held
 *   its maximum: flow control per destination, so that other traffic on the same connection keeps flowing.
 * - `UNDELIVERABLE`: any other reason (and any code this version does not know).
 */
export type DeliveryFailureCode =
  | 'NO_ROUTE'
  | 'ACCESS_DENIED'
  | 'WRONG_BODY_TYPE'
  | 'CONNECTION_REFUSED'
  | 'UNREACHABLE'
  | 'INVALID_ADDRESS'
  | 'CONNECTION_LOST'
  | 'TOO_LARGE'
  | 'CHANNEL_CLOSED'
  | 'PEER_UNRESPONSIVE'
  | 'NODE_STOPPED'
  | 'CONGESTED'
  | 'UNDELIVERABLE';

/** The wire value of each code (docs/PROTOCOL.md 2.1). 0 and unknown values read as `UNDELIVERABLE`. */
const WIRE_CODES: Readonly<Record<DeliveryFailureCode, number>> = {
  UNDELIVERABLE: 0,
  NO_ROUTE: 1,
  ACCESS_DENIED: 2,
  WRONG_BODY_TYPE: 3,
  CONNECTION_REFUSED: 4,
  UNREACHABLE: 5,
  INVALID_ADDRESS: 6,
  CONNECTION_LOST: 7,
  TOO_LARGE: 8,
  CHANNEL_CLOSED: 9,
  PEER_UNRESPONSIVE: 10,
  NODE_STOPPED: 11,
  CONGESTED: 12,
};
const BY_WIRE_CODE = new Map<number, DeliveryFailureCode>(
  Object.entries(WIRE_CODES).map(([code, value]) => [value, code as DeliveryFailureCode]),
);

/** Version byte of the notice body. */
export const NOTICE_VERSION = 1;
/** The encoded notice: version and code. Fixed size: a notice can carry nothing else. */
export const NOTICE_LENGTH = 2;

/**
 * The first character of the value of a local address that takes delivery failure notices: a request's
 * reply slot, a channel initiator's decryptor. A node that drops a message sends a notice only when the
 * message's return route ends at such an address, so no notice ever reaches a worker that does not expect
 * one, and notices are never sent about notices.
 */
export const NOTICE_MARKER = '~';

/** Whether `address` (the last hop of a return route) takes delivery failure notices. */
export function takesFailureNotices(address: Address | undefined): boolean {
  return address !== undefined && address.type === LOCAL && address.value.charCodeAt(0) === 0x7e; // '~'
}

/**
 * A delivery failure notice: the body a node sends back along a dropped request's return route. On the
 * node that made it, `cause` holds the local error (never encoded: a peer learns only the code).
 */
export class DeliveryFailureNotice {
  constructor(
    readonly code: DeliveryFailureCode,
    /** The local reason, on the node that dropped the message only. */
    readonly cause?: unknown,
  ) {}

  /** `version:u8 code:u8`. */
  encode(): Uint8Array {
    return Uint8Array.of(NOTICE_VERSION, WIRE_CODES[this.code]);
  }

  /** Reads a notice; throws `DecodeError` for another length or version. */
  static decode(bytes: Uint8Array): DeliveryFailureNotice {
    if (bytes.length !== NOTICE_LENGTH) {
      throw new DecodeError('MALFORMED', `a delivery failure notice is ${NOTICE_LENGTH} bytes`);
    }
    if (bytes[0] !== NOTICE_VERSION) {
      throw new DecodeError('UNSUPPORTED_VERSION', `delivery failure notice version ${bytes[0]}`);
    }
    return new DeliveryFailureNotice(BY_WIRE_CODE.get(bytes[1]!) ?? 'UNDELIVERABLE');
  }
}
