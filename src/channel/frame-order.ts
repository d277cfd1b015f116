import type { ByteBudget } from '../node/byte-budget';
import type { ChannelLimits } from './options';
import { ReorderBuffer, type NonceGap } from './reorder-buffer';

function noop(): void {}

/** What putting frames back in sending order needs from the decryptor. */
export interface FrameOrderHost {
  readonly limits: ChannelLimits;
  /** The node's memory for channels: held frames are charged to it. */
  readonly memory: ByteBudget;
  /** Whether the channel has closed: nothing more is delivered. */
  readonly isClosed: boolean;
  /** Acts on one plaintext, in sending order; a promise under backpressure. */
  process(plaintext: Uint8Array): Promise<void> | undefined;
  /** A frame arrived ahead of a missing one and is held. */
  held(): void;
  /** Frames that never arrived were given up. */
  lost(gap: NonceGap): void;
}

/**
 * The sending order of an unreliable channel's frames: the frame the sender sent next is acted on at once;
 * one ahead of a missing frame is held until the gap fills, or the gap is given up (reported through
 * `lost`) after `reorderTimeout`, or at once when holding would exceed `maxReorderBytes` or the node's
 * channel memory, or when the missing frame falls behind the replay window (it could not be accepted).
 */
export class FrameOrder {
  private readonly order = new ReorderBuffer();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly host: FrameOrderHost) {}

  /** The nonce of the frame the sender sent next: an older one arrived after its gap was reported. */
  get next(): number {
    return this.order.next;
  }

  /** An authenticated frame: acted on now if it is the next, held otherwise. */
  accept(nonce: number, plaintext: Uint8Array): Promise<void> | undefined {
    // The hot path: the frame the sender sent next. Anything else waits for the frames before it.
    if (nonce !== this.order.next) return this.holdEarly(nonce, plaintext);
    this.order.next++;
    const pending = this.host.process(plaintext);
    return this.order.size === 0 ? pending : (this.release() ?? pending);
  }

  /** Lets go of every held frame and its memory: the channel closed. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.host.memory.release(this.order.bytes);
    this.order.clear();
  }

  /** Holds a frame that arrived ahead of a missing one (see the class comment for when the gap is given up). */
  private holdEarly(nonce: number, plaintext: Uint8Array): Promise<void> | undefined {
    const { limits, memory } = this.host;
    this.host.held();
    const now = Date.now();
    this.order.hold(nonce, plaintext, now);
    memory.charge(plaintext.length);
    let pending: Promise<void> | undefined;
    while (
      this.order.size > 0 &&
      (this.order.bytes > limits.maxReorderBytes ||
        memory.used > memory.limit ||
        nonce - this.order.next >= limits.replayWindow)
    ) {
      pending = this.skipGap() ?? pending;
    }
    if (this.order.size > 0 && this.timer === undefined && !this.host.isClosed) {
      this.armTimer(this.order.earliestArrival ?? now);
    }
    return pending;
  }

  /**
   * A held frame waited `reorderTimeout`: the gaps before it are given up. Each gap waits at most that long
   * (from when the first frame after it arrived), never longer; then the timer follows the next one.
   */
  private readonly timedOut = (): void => {
    this.timer = undefined;
    const due = Date.now() - this.host.limits.reorderTimeout;
    let earliest: number | undefined;
    while (!this.host.isClosed && (earliest = this.order.earliestArrival) !== undefined && earliest <= due) {
      // Not in the decryptor's handler: a delivery that has to wait for room completes on its own.
      this.skipGap()?.catch(noop);
    }
    if (!this.host.isClosed && earliest !== undefined) this.armTimer(earliest);
  };

  private armTimer(earliest: number): void {
    const wait = Math.max(1, earliest + this.host.limits.reorderTimeout - Date.now());
    this.timer = setTimeout(this.timedOut, wait);
    this.timer.unref();
  }

  /** Gives up the frames missing before the first held one: reported, then the held ones that follow go. */
  private skipGap(): Promise<void> | undefined {
    const gap = this.order.skipGap();
    if (gap === undefined) return undefined;
    this.host.lost(gap);
    return this.release();
  }

  /** Delivers the held frames that are now in order. */
  private release(): Promise<void> | undefined {
    let pending: Promise<void> | undefined;
    let plaintext: Uint8Array | undefined;
    while (!this.host.isClosed && (plaintext = this.order.take()) !== undefined) {
      this.host.memory.release(plaintext.length);
      pending = this.host.process(plaintext) ?? pending;
    }
    if (this.order.size === 0 && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    return pending;
  }
}
