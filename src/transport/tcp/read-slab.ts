import { allocate } from '../../core/allocate';

/**
 * Where a socket's reads land (node:net's `onread`): each read gets the unused rest of one large buffer, so
 * reads that follow each other lie back to back in memory, and a frame that spans them is still one
 * contiguous range the frame parser can hand out as a view (no copy). Without it every read is a buffer of
 * its own, and each 64 KiB frame of a bulk transfer (over one read's 64 KiB) was gathered into a fresh copy:
 * an allocation, a copy and, at a few hundred MB/s, the external memory that drove the receiver's garbage
 * collections.
 *
 * A region, once given to a read, is never given again: the parser and everything downstream may keep views
 * of what was read. A slab lives as long as any view into it; `FrameParser` copies a frame instead of a view
 * when the view would pin more than 8 times its size (see `MAX_PIN_FACTOR` there). Slabs start small (an
 * idle connection holds 64 KiB) and double, up to 256 KiB, each time a read fills the whole region it was
 * given (a sign that the peer is streaming and larger reads would take more per system call).
 */
export class ReadSlab {
  private slab: Uint8Array;
  private used = 0;
  private size = MIN_SLAB_BYTES;
  /** The region the last `region()` gave out. */
  private given: Uint8Array;

  constructor() {
    this.slab = allocate(this.size);
    this.given = this.slab;
  }

  /** The buffer for the next read: the unused rest of the slab, or a new slab when too little is left. */
  readonly region = (): Uint8Array => {
    if (this.slab.length - this.used < MIN_REGION_BYTES) {
      this.slab = allocate(this.size);
      this.used = 0;
    }
    this.given = this.slab.subarray(this.used);
    return this.given;
  };

  /** A read put `count` bytes at the start of the region last given: those bytes, as a view. */
  took(count: number): Uint8Array {
    const bytes = this.given.subarray(0, count);
    this.used += count;
    if (count === this.given.length && this.size < MAX_SLAB_BYTES) this.size *= 2;
    return bytes;
  }
}

/** A new slab's first size: what one idle connection keeps. */
const MIN_SLAB_BYTES = 64 * 1024;
/**
 * The largest slab: what a view of a frame of 32 KiB or more may keep alive (a hostile hub can make each
 * frame a receiver still holds pin one slab: at most 4x the 64 KiB one of node's reads could).
 */
const MAX_SLAB_BYTES = 256 * 1024;
/** A slab with less left than this is left to its views; the next read gets a new one. */
const MIN_REGION_BYTES = 16 * 1024;
