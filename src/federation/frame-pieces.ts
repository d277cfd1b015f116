import { ByteParts } from '../core/byte-parts';
import { DecodeError } from '../core/errors';
import {
  EnvelopeKind,
  PIECE_MAX_BYTES,
  PIECE_OFFSET_BYTES,
  headerSize,
  writeHeader,
  type Envelope,
} from './envelope';
import type { FederationBus } from './nats-bus';

/** What numbers the pieces of one frame: the sender, the two epochs and the frame's `seq`. */
export interface PieceIds {
  readonly hub: string;
  readonly instance: string;
  readonly epoch: number;
  readonly peerEpoch: number;
  readonly seq: number;
}

/**
 * Publishes a frame (`head`, then `tail` if given: the envelope's frame bytes, without its header) as PART
 * envelopes and a LAST, each at most `PIECE_MAX_BYTES`, the frame cut into pieces of equal size. What comes
 * from `tail` is not copied (the bus writes it after the piece's header); what comes from `head` is copied
 * into that header's buffer (a frame head is a few hundred bytes).
 */
export function publishPieces(
  bus: FederationBus,
  subject: string,
  ids: PieceIds,
  head: Uint8Array,
  tail: Uint8Array | undefined,
): void {
  const total = head.length + (tail?.length ?? 0);
  const header = headerSize(ids.hub.length) + PIECE_OFFSET_BYTES;
  const count = Math.ceil(total / (PIECE_MAX_BYTES - header));
  const step = Math.ceil(total / count);
  for (let offset = 0; offset < total; offset += step) {
    const end = Math.min(offset + step, total);
    const kind = end === total ? EnvelopeKind.LAST : EnvelopeKind.PART;
    const fromHead = head.subarray(Math.min(offset, head.length), Math.min(end, head.length));
    const out = Buffer.allocUnsafe(header + fromHead.length);
    writeHeader(out, kind, ids.hub, ids.instance, ids.epoch, ids.peerEpoch, ids.seq);
    out.writeUInt32BE(offset, header - PIECE_OFFSET_BYTES);
    out.set(fromHead, header);
    // The part of this piece past the head (none while the head fills it: a long route can outgrow one).
    const body = tail?.subarray(Math.max(offset - head.length, 0), Math.max(end - head.length, 0));
    bus.publish(subject, out, body !== undefined && body.length > 0 ? body : undefined);
  }
}

/** The pieces of one frame received so far. */
interface Assembly {
  readonly epoch: number;
  readonly peerEpoch: number;
  readonly seq: number;
  readonly pieces: Uint8Array[];
  length: number;
}

/**
 * Frames that crossed NATS in pieces, put back together: one frame at a time per sending hub (NATS keeps
 * one publisher's order on one subject, and loses whole messages). A piece that does not continue the
 * frame being assembled (one before it was lost) ends that frame: its `seq` never completes, and the
 * receiver's gap accounting counts it lost once a later frame arrives. One frame may not exceed
 * `maxFrameBytes` (the largest a hub publishes), and all of them together not `maxHeldBytes`: the hub name
 * in an envelope is the sender's say-so, so a hostile publisher could otherwise hold a frame's worth under
 * every name it makes up. Going over evicts the oldest frames in progress (`onEvicted`).
 */
export class FramePieces {
  /** Frames in progress by sending hub, oldest first. */
  private readonly assemblies = new Map<string, Assembly>();
  private held = 0;

  constructor(
    private readonly maxFrameBytes: () => number,
    private readonly maxHeldBytes: number,
    private readonly onEvicted: (hub: string) => void = () => undefined,
  ) {}

  /** Bytes of the frames in progress. */
  get heldBytes(): number {
    return this.held;
  }

  /**
   * A PART or LAST: the whole frame, as a DATA envelope, once its LAST piece came; undefined otherwise.
   * Throws `DecodeError` `TOO_LARGE` for pieces that add up to more than a frame may be.
   */
  add(piece: Envelope): Envelope | undefined {
    let assembly = this.assemblies.get(piece.hub);
    if (piece.offset === 0 || !continues(assembly, piece)) {
      this.forget(piece.hub);
      if (piece.offset !== 0) return undefined;
      const { epoch, peerEpoch, seq } = piece;
      assembly = { epoch, peerEpoch, seq, pieces: [], length: 0 };
      this.assemblies.set(piece.hub, assembly);
    }
    const size = piece.frame.length;
    if (assembly!.length + size > Math.min(this.maxFrameBytes(), this.maxHeldBytes)) {
      this.forget(piece.hub);
      throw new DecodeError(
        'TOO_LARGE',
        `pieces of a frame add up to more than ${this.maxFrameBytes()} bytes`,
      );
    }
    for (const hub of this.assemblies.keys()) {
      if (this.held + size <= this.maxHeldBytes) break;
      if (hub === piece.hub) continue;
      this.forget(hub);
      this.onEvicted(hub);
    }
    assembly!.pieces.push(piece.frame);
    assembly!.length += size;
    this.held += size;
    if (piece.kind !== EnvelopeKind.LAST) return undefined;
    this.forget(piece.hub);
    return { ...piece, kind: EnvelopeKind.DATA, offset: 0, frame: new ByteParts(assembly!.pieces).join() };
  }

  /** Drops the frame in progress from `hub`, if any. */
  private forget(hub: string): void {
    const assembly = this.assemblies.get(hub);
    if (assembly === undefined) return;
    this.held -= assembly.length;
    this.assemblies.delete(hub);
  }
}

/** Whether `piece` is the next piece of the frame `assembly` holds. */
function continues(assembly: Assembly | undefined, piece: Envelope): assembly is Assembly {
  return (
    assembly !== undefined &&
    assembly.epoch === piece.epoch &&
    assembly.peerEpoch === piece.peerEpoch &&
    assembly.seq === piece.seq &&
    assembly.length === piece.offset
  );
}
