import { allocate } from './envelope';
import { SecureChannelError } from './errors';
import { CHUNK_PIECE_LENGTH } from './frames';

interface Partial {
  readonly buffer: Uint8Array;
  /** One byte per piece: 1 once it arrived. */
  readonly arrived: Uint8Array;
  remaining: number;
}

/**
 * Puts chunked messages back together. Pieces may arrive in any order (the replay window already refused
 * duplicates of a frame); every piece but the last is exactly `CHUNK_PIECE_LENGTH` bytes, so each one's place
 * is checked, not trusted. Memory is bounded: a message may not exceed `maxMessageSize`, and at most
 * `maxPartial` messages are in progress at once; starting one more evicts the oldest (a message one of whose
 * pieces was lost would otherwise hold its buffer forever).
 */
export class Reassembly {
  private readonly partials = new Map<number, Partial>();
  /** Partial messages given up to make room for newer ones. */
  evicted = 0;

  constructor(
    private readonly maxMessageSize: number,
    private readonly maxPartial: number,
  ) {}

  /**
   * Adds one piece; returns the whole message once its last piece arrived. Throws `TOO_LARGE` or
   * `MALFORMED` (the piece is then dropped; a partial message it contradicts is dropped too).
   */
  add(id: number, total: number, index: number, piece: Uint8Array): Uint8Array | undefined {
    if (total > this.maxMessageSize) {
      throw new SecureChannelError(
        'TOO_LARGE',
        `a chunked message of ${total} bytes exceeds the maximum of ${this.maxMessageSize}`,
      );
    }
    const pieces = Math.ceil(total / CHUNK_PIECE_LENGTH);
    const offset = index * CHUNK_PIECE_LENGTH;
    if (total === 0 || index >= pieces || piece.length !== Math.min(CHUNK_PIECE_LENGTH, total - offset)) {
      throw new SecureChannelError('MALFORMED', 'chunk does not fit its message');
    }
    let partial = this.partials.get(id);
    if (partial === undefined) {
      if (pieces === 1) return piece;
      if (this.partials.size >= this.maxPartial) {
        const oldest = this.partials.keys().next().value as number;
        this.partials.delete(oldest);
        this.evicted++;
      }
      // Uninitialised: the pieces cover every byte, and only a complete message leaves this class.
      partial = { buffer: allocate(total), arrived: new Uint8Array(pieces), remaining: pieces };
      this.partials.set(id, partial);
    } else if (partial.buffer.length !== total || partial.arrived[index] === 1) {
      this.partials.delete(id);
      throw new SecureChannelError('MALFORMED', 'chunk contradicts the message it belongs to');
    }
    partial.buffer.set(piece, offset);
    partial.arrived[index] = 1;
    if (--partial.remaining > 0) return undefined;
    this.partials.delete(id);
    return partial.buffer;
  }

  /** Messages in progress. */
  get pending(): number {
    return this.partials.size;
  }

  clear(): void {
    this.partials.clear();
  }
}
