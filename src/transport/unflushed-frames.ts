import type { LocalMessage } from '../core/message';
import { RingQueue } from '../node/ring-queue';

/**
 * The messages whose frames a connection has written but its stream has not yet handed on (to the
 * operating system): if the stream is destroyed now, those frames are lost, wholly or in part (a peer
 * discards a partial frame), and each must be counted as a dead letter rather than vanish. Tracked by byte
 * offset: every write adds its length, and a frame is flushed once the stream's unsent bytes no longer
 * reach back to its end. A healthy stream takes each write at once, so the queue stays empty.
 */
export class UnflushedFrames {
  private written = 0;
  private readonly frames = new RingQueue<{ readonly message: LocalMessage; readonly end: number }>();

  constructor(
    /** Bytes written to the stream that it has not handed on yet. */
    private readonly unsentBytes: () => number,
  ) {}

  /** `bytes` were written: a frame carrying `message`, or (without it) a preamble, PING or PONG. */
  wrote(bytes: number, message?: LocalMessage): void {
    this.written += bytes;
    if (message !== undefined) this.frames.push({ message, end: this.written });
    this.prune();
  }

  /** Forgets the frames the stream has handed on. */
  prune(): void {
    if (this.frames.isEmpty) return;
    const flushed = this.written - this.unsentBytes();
    while (!this.frames.isEmpty && this.frames.peek()!.end <= flushed) this.frames.shift();
  }

  /** The messages whose frames have not wholly left (call before destroying the stream); forgets them. */
  takeLost(): LocalMessage[] {
    this.prune();
    const lost: LocalMessage[] = [];
    this.frames.drain((frame) => lost.push(frame.message));
    return lost;
  }
}
