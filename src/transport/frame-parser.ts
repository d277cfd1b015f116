import { allocate } from '../core/allocate';
import { ByteParts } from '../core/byte-parts';
import { TransportError } from './errors';

/** The first bytes each side of a stream connection sends: ASCII `SRTP` (Sealroute transport protocol). */
export const PREAMBLE_MAGIC: readonly number[] = [0x53, 0x52, 0x54, 0x50];
/** The framing protocol version, the byte after the magic. A peer with another version is refused. */
export const PROTOCOL_VERSION = 1;
/** The whole preamble: magic, then the version byte. */
export const PREAMBLE: Uint8Array = Uint8Array.from([...PREAMBLE_MAGIC, PROTOCOL_VERSION]);
/** Each frame starts with its length as an unsigned 32-bit big-endian integer. */
export const FRAME_HEADER_SIZE = 4;

/** What `FrameParser.next()` found in the bytes pushed so far. */
export type FrameEvent =
  /** The peer's preamble arrived and matched. */
  | { readonly kind: 'preamble' }
  /**
   * One complete frame body: a view into the received bytes when they lie in one buffer (no copy; it pins
   * that buffer while the frame is in use, see `take`), a copy when they do not. The parser never writes to
   * bytes it has returned.
   */
  | { readonly kind: 'frame'; readonly frame: Uint8Array }
  /** A frame of at least `partsFrom` bytes that lies in several buffers: views of them, not a copy. */
  | { readonly kind: 'parts'; readonly parts: ByteParts };

/** Options of a `FrameParser`. */
export interface FrameParserOptions {
  /** The largest frame body accepted; a larger declared length fails with `FRAME_TOO_LARGE`. */
  readonly maxFrameSize: number;
  /** Whether the stream starts with the peer's preamble. Default true. */
  readonly expectPreamble?: boolean;
  /**
   * A frame of at least this many bytes that does not lie back to back in one buffer comes as a `parts`
   * event (views of the buffers it lies in) instead of a copy, unless those buffers are much larger than
   * the frame (see `take`). Default: never.
   */
  readonly partsFrom?: number;
}

type ParserState = 'preamble' | 'header' | 'body' | 'failed';

/**
 * Splits a byte stream into frames: `preamble`, then `u32 big-endian length || body`, repeated. Pure (no I/O,
 * no timers), so it is tested on its own. Bytes from a peer are untrusted: a declared length is checked
 * against `maxFrameSize` before anything is allocated for it, and nothing is allocated for a frame until
 * all of its bytes are here, so a peer cannot make it reserve memory it has not sent. Errors are sticky:
 * after one, every call throws the same `TransportError` (`PROTOCOL_MISMATCH` or `FRAME_TOO_LARGE`).
 */
export class FrameParser {
  private readonly chunks: Uint8Array[] = [];
  /** Index of the first chunk with unread bytes, and the read offset inside it. */
  private head = 0;
  private offset = 0;
  private buffered = 0;
  private state: ParserState;
  /** The body length of the frame being read (state 'body'). */
  private expected = 0;
  private failure: TransportError | undefined;
  /** The buffer small chunks are coalesced into, how much of it is used, and its slot in `chunks`. */
  private tail: Uint8Array | undefined;
  private tailUsed = 0;
  private tailIndex = -1;
  private readonly maxFrameSize: number;
  private readonly partsFrom: number;

  constructor(options: FrameParserOptions) {
    if (
      !Number.isInteger(options.maxFrameSize) ||
      options.maxFrameSize < 0 ||
      options.maxFrameSize > 0xffffffff
    ) {
      throw new TransportError(
        'INVALID_OPTION',
        `maxFrameSize must be an integer in 0..4294967295, got ${options.maxFrameSize}`,
      );
    }
    this.maxFrameSize = options.maxFrameSize;
    this.partsFrom = options.partsFrom ?? Infinity;
    this.state = (options.expectPreamble ?? true) ? 'preamble' : 'header';
  }

  /** Bytes received and not yet returned as part of a frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * True while something is incomplete: the preamble has not fully arrived, or part of a frame has. The
   * owner times this (a peer trickling one byte a second never completes a frame).
   */
  get inProgress(): boolean {
    // A taken header with none of its body yet is a frame in progress too: its timer must run.
    return this.state === 'preamble' || this.state === 'body' || this.buffered > 0;
  }

  /** True once the peer's preamble has been accepted. */
  get preambleDone(): boolean {
    return this.state === 'header' || this.state === 'body';
  }

  /** Adds bytes as they came off the stream. The parser keeps a reference; do not reuse the buffer. */
  push(chunk: Uint8Array): void {
    if (this.failure !== undefined) throw this.failure;
    if (chunk.length === 0) return;
    this.buffered += chunk.length;
    if (chunk.length <= SMALL_CHUNK && this.chunks.length - this.head >= 8) this.appendToTail(chunk);
    else this.chunks.push(chunk);
    this.compact();
  }

  /**
   * The next preamble or frame, or undefined when more bytes are needed. Throws `TransportError` when the
   * stream is not ours (`PROTOCOL_MISMATCH`) or declares a frame over the maximum (`FRAME_TOO_LARGE`).
   */
  next(): FrameEvent | undefined {
    switch (this.state) {
      case 'failed':
        throw this.failure!;
      case 'preamble':
        return this.readPreamble();
      case 'header': {
        if (this.buffered < FRAME_HEADER_SIZE) return undefined;
        // Read with multiplication, not `<<`, so that lengths of 2^31 and above stay positive.
        const length = this.peek(0) * 0x1000000 + ((this.peek(1) << 16) | (this.peek(2) << 8) | this.peek(3));
        if (length > this.maxFrameSize) {
          return this.fail(
            'FRAME_TOO_LARGE',
            `frame of ${length} bytes exceeds the maximum of ${this.maxFrameSize} bytes`,
          );
        }
        this.skip(FRAME_HEADER_SIZE);
        this.expected = length;
        this.state = 'body';
        return this.next();
      }
      case 'body': {
        if (this.buffered < this.expected) return undefined;
        const frame = this.take(this.expected);
        this.state = 'header';
        return frame instanceof ByteParts ? { kind: 'parts', parts: frame } : { kind: 'frame', frame };
      }
    }
  }

  private readPreamble(): FrameEvent | undefined {
    // Compare what has arrived so far, so a stranger's bytes are refused at once, not after a timeout.
    const available = Math.min(this.buffered, PREAMBLE.length);
    for (let i = 0; i < available; i++) {
      if (this.peek(i) === PREAMBLE[i]) continue;
      if (i < PREAMBLE_MAGIC.length)
        return this.fail('PROTOCOL_MISMATCH', 'the peer is not a Sealroute node');
      return this.fail(
        'PROTOCOL_MISMATCH',
        `the peer speaks protocol version ${this.peek(i)}, this node speaks ${PROTOCOL_VERSION}`,
      );
    }
    if (available < PREAMBLE.length) return undefined;
    this.skip(PREAMBLE.length);
    this.state = 'header';
    return { kind: 'preamble' };
  }

  private fail(code: 'PROTOCOL_MISMATCH' | 'FRAME_TOO_LARGE', message: string): never {
    this.failure = new TransportError(code, message);
    this.state = 'failed';
    // Nothing more will be read: let the buffered bytes go.
    this.chunks.length = 0;
    this.tail = undefined;
    this.head = 0;
    this.offset = 0;
    this.buffered = 0;
    throw this.failure;
  }

  /** The byte `index` positions after the read position; the caller checked it is buffered. */
  private peek(index: number): number {
    let chunkIndex = this.head;
    let position = this.offset + index;
    while (position >= this.chunks[chunkIndex]!.length) {
      position -= this.chunks[chunkIndex]!.length;
      chunkIndex++;
    }
    return this.chunks[chunkIndex]![position]!;
  }

  private skip(count: number): void {
    this.consume(count, undefined);
  }

  /**
   * The next `count` buffered bytes (count <= buffered, and <= maxFrameSize: checked by the caller): a view
   * when they lie in one buffer, back to back (within the head chunk, or across reads a `ReadSlab` placed
   * one after the other), else a copy. A small frame in a large buffer is copied too, so that what a
   * receiver keeps of a frame pins at most `MAX_PIN_FACTOR` times its size (or one 64 KiB read, as node's
   * own reads always could).
   */
  private take(count: number): Uint8Array | ByteParts {
    const head = this.chunks[this.head];
    if (head !== undefined && this.isContiguous(count)) {
      if (mayPin(head.buffer.byteLength, count)) {
        const view = new Uint8Array(head.buffer, head.byteOffset + this.offset, count);
        this.skip(count);
        return view;
      }
    } else if (count >= this.partsFrom && mayPin(this.pinnedBy(count), count)) {
      return this.views(count);
    }
    // Not zero-filled: `consume` writes all `count` bytes (the caller checked that many are buffered) before
    // anything can read them. A small one from node's shared pool (which pins at most its 8 KiB). A
    // Uint8Array, as before, not the Buffer itself (whose `slice` is a view).
    const out = count < SMALL_FRAME ? pooled(count) : allocate(count);
    this.consume(count, out);
    return out;
  }

  /** The bytes of the buffers the next `count` buffered bytes lie in (each buffer counted once). */
  private pinnedBy(count: number): number {
    let pinned = 0;
    let last: ArrayBufferLike | undefined;
    for (let index = this.head, covered = -this.offset; covered < count; index++) {
      const chunk = this.chunks[index]!;
      if (chunk.buffer !== last) pinned += chunk.buffer.byteLength;
      last = chunk.buffer;
      covered += chunk.length;
    }
    return pinned;
  }

  /** The next `count` buffered bytes as views of the chunks they lie in, consumed. */
  private views(count: number): ByteParts {
    const parts: Uint8Array[] = [];
    while (count > 0) {
      const chunk = this.chunks[this.head]!;
      const step = Math.min(count, chunk.length - this.offset);
      parts.push(chunk.subarray(this.offset, this.offset + step));
      this.skip(step);
      count -= step;
    }
    return new ByteParts(parts);
  }

  /** Whether the next `count` buffered bytes lie back to back in one buffer. */
  private isContiguous(count: number): boolean {
    let index = this.head;
    let chunk = this.chunks[index]!;
    let covered = chunk.length - this.offset;
    while (covered < count) {
      const next = this.chunks[++index]!;
      if (next.buffer !== chunk.buffer || next.byteOffset !== chunk.byteOffset + chunk.length) return false;
      covered += next.length;
      chunk = next;
    }
    return true;
  }

  private consume(count: number, out: Uint8Array | undefined): void {
    let written = 0;
    while (written < count) {
      const chunk = this.chunks[this.head]!;
      const step = Math.min(count - written, chunk.length - this.offset);
      out?.set(chunk.subarray(this.offset, this.offset + step), written);
      written += step;
      this.offset += step;
      if (this.offset === chunk.length) {
        this.chunks[this.head] = EMPTY; // release it now, not when the array is compacted
        this.head++;
        this.offset = 0;
      }
    }
    this.buffered -= count;
    if (this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.head = 0;
      this.tail = undefined;
    }
  }

  /**
   * A peer that dribbles bytes sends many tiny chunks: once a few are pending, small chunks are copied into
   * one tail buffer instead of each taking a slot, so bookkeeping stays proportional to the bytes held
   * (which are bounded by one frame plus one read) and each byte is copied once.
   */
  private appendToTail(chunk: Uint8Array): void {
    const last = this.chunks.length - 1;
    const tail = this.tail;
    if (
      tail !== undefined &&
      this.tailIndex === last &&
      last >= this.head &&
      this.tailUsed + chunk.length <= tail.length
    ) {
      tail.set(chunk, this.tailUsed);
      this.tailUsed += chunk.length;
      // The view grows at its end; a read offset into it stays valid.
      this.chunks[last] = tail.subarray(0, this.tailUsed);
      return;
    }
    this.tail = new Uint8Array(TAIL_SIZE);
    this.tail.set(chunk);
    this.tailUsed = chunk.length;
    this.chunks.push(this.tail.subarray(0, this.tailUsed));
    this.tailIndex = this.chunks.length - 1;
  }

  /** Drops consumed slots once they are the majority of the list. */
  private compact(): void {
    if (this.head > 32 && this.head * 2 > this.chunks.length) {
      this.chunks.splice(0, this.head);
      this.tailIndex -= this.head;
      this.head = 0;
    }
  }
}

/**
 * How many times its own size a frame handed out as a view may keep alive (the buffer it lies in), when that
 * buffer is larger than one of node's reads.
 */
const MAX_PIN_FACTOR = 8;
/** node's own reads are at most this large: a view into one pins no more than it always has. */
const MAX_PINNED_READ = 64 * 1024;
/** Whether a frame of `count` bytes may be handed out as views that keep `pinned` bytes alive. */
function mayPin(pinned: number, count: number): boolean {
  return pinned <= MAX_PINNED_READ || count * MAX_PIN_FACTOR >= pinned;
}
/** Copies under this size come from node's shared pool. */
const SMALL_FRAME = 4 * 1024;
/** `count` uninitialised bytes of node's shared pool, as a Uint8Array. */
function pooled(count: number): Uint8Array {
  const buffer = Buffer.allocUnsafe(count);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, count);
}

/** Chunks up to this size may be coalesced into a tail buffer. */
const SMALL_CHUNK = 1024;
/** Size of a coalescing tail buffer. */
const TAIL_SIZE = 16 * 1024;
const EMPTY = new Uint8Array(0);

/** The 4-byte header of a frame of `length` bytes. */
export function frameHeader(length: number): Uint8Array {
  const header = new Uint8Array(FRAME_HEADER_SIZE);
  new DataView(header.buffer).setUint32(0, length, false);
  return header;
}
