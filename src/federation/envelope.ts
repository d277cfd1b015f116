import { DecodeError } from '../core/errors';
import { HUB_NAME } from './name-record';

/**
 * What hubs publish to each other on NATS, in one layout:
 *
 *   version:u8 (1) | kind:u8 | len(hub):u8 | hub | instance (16 bytes) | epoch:f64 | peerEpoch:f64 | seq:f64
 *   | frame (DATA only: a transport message as `encodeFrame` lays it out, relayed unchanged)
 *   | offset:u32 | piece (PART and LAST: the bytes of frame `seq` from `offset` on; LAST is its final piece)
 *
 * A frame larger than `PIECE_MAX_BYTES` crosses NATS as PARTs and a LAST, in order, all numbered with its
 * `seq`: a message that fits one socket read costs nats-server and both NATS clients far less per byte
 * than one that spans two (bench/README.md, `federation.*`).
 * `hub`, `instance` and `epoch` are the sender's; `peerEpoch` is the epoch of the hub it is meant for (a
 * restarted hub drops what was meant for its previous life); `seq` numbers DATA from one sender epoch to
 * one receiver (1, 2, ...), so that the receiver counts every gap as lost frames, and an ACK carries the
 * highest `seq` received. A HEARTBEAT renews the sender's lease (see federation.ts).
 */
export const ENVELOPE_VERSION = 1;

/** Kinds of envelope. */
export const EnvelopeKind = { DATA: 1, ACK: 2, HEARTBEAT: 3, PART: 4, LAST: 5 } as const;
export type EnvelopeKind = (typeof EnvelopeKind)[keyof typeof EnvelopeKind];

/** A decoded envelope (`frame` is a view into the received bytes: no copy). */
export interface Envelope {
  readonly kind: EnvelopeKind;
  readonly hub: string;
  readonly instance: string;
  readonly epoch: number;
  readonly peerEpoch: number;
  readonly seq: number;
  /** DATA: the frame; PART, LAST: a piece of it, which starts at `offset` (0 for the other kinds). */
  readonly frame: Uint8Array;
  readonly offset: number;
}

/** The largest envelope that crosses NATS whole (a frame of more goes in pieces of at most this). */
export const PIECE_MAX_BYTES = 32_000;

/** The bytes a piece's offset takes after the header. */
export const PIECE_OFFSET_BYTES = 4;

/** Whether an envelope of `kind` carries a frame or a piece of one. */
function carriesBytes(kind: number): boolean {
  return kind === EnvelopeKind.DATA || kind === EnvelopeKind.PART || kind === EnvelopeKind.LAST;
}

/** The envelope header's size for a hub name of `hubLength` bytes. */
export function headerSize(hubLength: number): number {
  return 3 + hubLength + 16 + 24;
}

/**
 * Writes the header into the first `headerSize(hub.length)` bytes of `out` (the frame, if any, follows:
 * `encodeFrame(..., headerReserve)` leaves room for it).
 */
export function writeHeader(
  out: Buffer,
  kind: EnvelopeKind,
  hub: string,
  instance: string,
  epoch: number,
  peerEpoch: number,
  seq: number,
): Buffer {
  out[0] = ENVELOPE_VERSION;
  out[1] = kind;
  out[2] = hub.length;
  let offset = 3 + out.write(hub, 3, 'latin1');
  offset += out.write(instance, offset, 'hex');
  offset = out.writeDoubleBE(epoch, offset);
  offset = out.writeDoubleBE(peerEpoch, offset);
  out.writeDoubleBE(seq, offset);
  return out;
}

/** An envelope without a frame (ACK, HEARTBEAT). */
export function encodeControl(
  kind: EnvelopeKind,
  hub: string,
  instance: string,
  epoch: number,
  peerEpoch: number,
  seq: number,
): Buffer {
  return writeHeader(Buffer.allocUnsafe(headerSize(hub.length)), kind, hub, instance, epoch, peerEpoch, seq);
}

const KINDS: ReadonlySet<number> = new Set(Object.values(EnvelopeKind));

/** Decodes an envelope from NATS; `DecodeError` for anything malformed (counted and dropped by the hub). */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 3) throw new DecodeError('TRUNCATED', 'an envelope shorter than its header');
  if (buf[0] !== ENVELOPE_VERSION) throw new DecodeError('UNSUPPORTED_VERSION', `envelope version ${buf[0]}`);
  const kind = buf[1]!;
  if (!KINDS.has(kind)) throw new DecodeError('MALFORMED', `envelope kind ${kind}`);
  const hubLength = buf[2]!;
  const size = headerSize(hubLength);
  if (buf.length < size) throw new DecodeError('TRUNCATED', 'an envelope shorter than its header');
  const hub = buf.toString('latin1', 3, 3 + hubLength);
  if (!HUB_NAME.test(hub)) throw new DecodeError('MALFORMED', 'a malformed hub name');
  const at = 3 + hubLength;
  const instance = buf.toString('hex', at, at + 16);
  const epoch = buf.readDoubleBE(at + 16);
  const peerEpoch = buf.readDoubleBE(at + 24);
  const seq = buf.readDoubleBE(at + 32);
  if (![epoch, peerEpoch, seq].every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new DecodeError('MALFORMED', 'an envelope with a malformed epoch or sequence number');
  }
  const piece = kind === EnvelopeKind.PART || kind === EnvelopeKind.LAST;
  if (piece && buf.length < size + PIECE_OFFSET_BYTES) {
    throw new DecodeError('TRUNCATED', 'a piece without its offset');
  }
  const offset = piece ? buf.readUInt32BE(size) : 0;
  const frame = buf.subarray(piece ? size + PIECE_OFFSET_BYTES : size);
  if (carriesBytes(kind) !== frame.length > 0) {
    throw new DecodeError('MALFORMED', 'a frame where none belongs, or none where one does');
  }
  return { kind: kind as EnvelopeKind, hub, instance, epoch, peerEpoch, seq, frame, offset };
}
