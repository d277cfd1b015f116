import type { ByteBudget } from '../node/byte-budget';
import { SecureChannelError } from './errors';
import { allocate } from '../core/allocate';
import { CHUNK_PIECE_LENGTH } from './frames';

interface Partial {
  buffer: Uint8Array;
  readonly total: number;
  /** One byte per piece: 1 once it arrived. */
  readonly arrived: Uint8Array;
  remaining: number;
}

/**
 * Messages up to this size get their whole buffer on their first piece (one copy per byte, as they are
 * common and cheap); larger ones grow with the pieces that actually arrived, so a declared size costs
 * nothing until it is sent.
 */
const WHOLE_AT_ONCE = 256 * 1024;

/** The reassemblies holding bytes of each node budget, so that going over it can evict the largest holder. */
const holders = new WeakMap<ByteBudget, Set<Reassembly>>();
/** Never written: `add` replaces it with an end's own map before the first `set`. */
const NO_PARTIALS = new Map<number, Partial>();

/**
 * Puts chunked messages back together. Pieces may arrive in any order (the replay window already refused
 * duplicates of a frame); every piece but the last is exactly `CHUNK_PIECE_LENGTH` bytes, so each one's place
 * is checked, not trusted. Memory is bounded in bytes, charged for what is allocated (which follows what
 * arrived, not what the sender declared): per channel end (`maxBytes`) and per node (`memory`, shared by
 * every channel end). Going over either, or over `maxPartial` messages, gives up this end's oldest partial
 * message (a message one of whose pieces was lost would otherwise hold its buffer forever); a message that
 * cannot fit even alone is refused (`TOO_LARGE`).
 */
export class Reassembly {
  /** Messages in progress: the shared empty `NO_PARTIALS` until the first chunked message (most ends get none). */
  private partials: Map<number, Partial> = NO_PARTIALS;
  /** Bytes allocated for partial messages. */
  private held = 0;
  /** Partial messages given up to make room for newer ones or to stay within the byte bounds. */
  evicted = 0;

  constructor(
    private readonly maxMessageSize: number,
    private readonly maxPartial: number,
    private readonly maxBytes: number,
    private readonly memory: ByteBudget,
    /** Told each time a partial message is given up (here, or by another channel end making room). */
    private readonly onEvicted: () => void = () => undefined,
    /** The length of every piece but the last (smaller on a reliable channel). */
    private readonly pieceLength: number = CHUNK_PIECE_LENGTH,
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
    const { pieceLength } = this;
    const pieces = Math.ceil(total / pieceLength);
    const offset = index * pieceLength;
    if (total === 0 || index >= pieces || piece.length !== Math.min(pieceLength, total - offset)) {
      throw new SecureChannelError('MALFORMED', 'chunk does not fit its message');
    }
    let partial = this.partials.get(id);
    if (partial === undefined) {
      if (pieces === 1) return piece;
      if (this.partials.size >= this.maxPartial) this.evictOldest(undefined);
      partial = { buffer: EMPTY, total, arrived: new Uint8Array(pieces), remaining: pieces };
      if (this.partials === NO_PARTIALS) this.partials = new Map();
      this.partials.set(id, partial);
    } else if (partial.total !== total || partial.arrived[index] === 1) {
      this.forget(id, partial);
      throw new SecureChannelError('MALFORMED', 'chunk contradicts the message it belongs to');
    }
    const end = offset + piece.length;
    if (end > partial.buffer.length) this.grow(id, partial, end);
    partial.buffer.set(piece, offset);
    partial.arrived[index] = 1;
    if (--partial.remaining > 0) return undefined;
    this.forget(id, partial);
    return partial.buffer;
  }

  /** Messages in progress. */
  get pending(): number {
    return this.partials.size;
  }

  /** Bytes held for messages in progress. */
  get bytes(): number {
    return this.held;
  }

  clear(): void {
    for (const [id, partial] of this.partials) this.forget(id, partial);
  }

  /** Makes `partial`'s buffer hold at least `end` bytes, within the bounds (or gives it up: TOO_LARGE). */
  private grow(id: number, partial: Partial, end: number): void {
    const { total } = partial;
    const old = partial.buffer;
    const size = total <= WHOLE_AT_ONCE ? total : Math.min(total, Math.max(end, old.length * 2));
    const more = size - old.length;
    // Make room: over this end's bytes, by giving up its own older messages; over the node's, by making the
    // channel end that holds the most give up its oldest. If this message alone does not fit, refuse it.
    while (this.held + more > this.maxBytes || this.memory.wouldExceed(more)) {
      const largest = this.held + more > this.maxBytes ? this : this.largestHolder();
      if (largest !== this) {
        largest.evictOldest(undefined);
        continue;
      }
      if (!this.evictOldest(id)) {
        this.forget(id, partial);
        this.memory.exceeded++;
        throw new SecureChannelError(
          'TOO_LARGE',
          `a chunked message of ${total} bytes does not fit the reassembly memory (${this.maxBytes} bytes per channel, ${this.memory.limit} per node, ${this.memory.used} in use)`,
        );
      }
    }
    // Uninitialised: the pieces cover every byte, and only a complete message leaves this class.
    const buffer = allocate(size);
    if (old.length > 0) buffer.set(old);
    partial.buffer = buffer;
    if (this.held === 0) this.holders().add(this);
    this.held += more;
    this.memory.charge(more);
  }

  private holders(): Set<Reassembly> {
    let set = holders.get(this.memory);
    if (set === undefined) holders.set(this.memory, (set = new Set()));
    return set;
  }

  /** The reassembly on this node holding the most bytes (this one among equals). */
  private largestHolder(): Reassembly {
    let largest: Reassembly | undefined;
    for (const other of this.holders()) if (other.held > (largest?.held ?? this.held)) largest = other;
    return largest ?? this;
  }

  /** Gives up the oldest partial message other than `keep`; false if there is none. */
  private evictOldest(keep: number | undefined): boolean {
    for (const [id, partial] of this.partials) {
      if (id === keep) continue;
      this.forget(id, partial);
      this.evicted++;
      this.onEvicted();
      return true;
    }
    return false;
  }

  private forget(id: number, partial: Partial): void {
    this.partials.delete(id);
    this.held -= partial.buffer.length;
    this.memory.release(partial.buffer.length);
    if (this.held === 0) this.holders().delete(this);
    partial.buffer = partial.remaining === 0 ? partial.buffer : EMPTY;
  }
}

const EMPTY = new Uint8Array(0);
