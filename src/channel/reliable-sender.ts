import { PayloadKind, RELIABLE_ACK_AT, writeU64 } from './frames';

/** The longest wait for an acknowledgement before a probe, in `retransmitInterval`s. */
const MAX_BACKOFF = 16;
/**
 * Bytes a sweep after a new route starts with in flight from the oldest unacknowledged frame (it grows by
 * what each acknowledgement releases). A sweep after a probe starts with one frame: the peer was silent.
 */
const ROUTE_WINDOW = 64 * 1024;

interface Unacked {
  /** The whole RELIABLE plaintext, kept to be encrypted again (under a fresh nonce) on a retransmission. */
  readonly plaintext: Uint8Array;
  /** Bytes sealed on this channel before it: the distance between two frames, in bytes, without a sum. */
  readonly offset: number;
}

/**
 * How the sender stands: `sending` (every frame goes as it is sealed), `probing` (no acknowledgement came
 * for too long: only the oldest unacknowledged frame went again, new ones wait), `sweeping` (frames from the
 * oldest unacknowledged one go (again) in a window that grows with each acknowledgement, new ones wait
 * their turn; back to `sending` once all went).
 */
type Mode = 'sending' | 'probing' | 'sweeping';

/**
 * The sending side of a reliable channel end (docs/PROTOCOL.md 4.5): numbers every MESSAGE and CHUNK payload
 * (`RELIABLE seq:u64 ack:u64 payload`) and keeps it until the peer acknowledges it; the buffer is bounded
 * in bytes (`maxUnackedBytes`): past it, `room()` makes senders wait.
 *
 * Recovery sends as little again as it can tell it must. No acknowledgement for `retransmitInterval`
 * (doubling, up to 16 intervals, while none comes): only the oldest unacknowledged frame goes again, a
 * probe; a peer that was slow or cut off for a while (a silent partition: everything sent arrives late)
 * then acknowledges past it, and nothing more is sent again. One that acknowledges the probe and no further
 * lost what followed: the frames after it go again, in a window that starts at 64 KiB and grows by what
 * each acknowledgement lets go of (like TCP's slow start). A new route to the peer (after a hub restart)
 * loses what was in flight: the same sweep, from the oldest unacknowledged frame. One timer per channel
 * end, armed while frames are unacknowledged.
 */
export class ReliableSender {
  private nextSeq = 0;
  /** Frames not yet acknowledged, oldest first, from `head`. */
  private frames: Unacked[] = [];
  private head = 0;
  private bytes = 0;
  private sealedBytes = 0;
  private mode: Mode = 'sending';
  /** The next frame to send (again) while probing or sweeping; `frames.length` while sending. */
  private sent = 0;
  /** One past the furthest frame ever sent: anything below it that goes again is a retransmission. */
  private highSent = 0;
  /** Sweeping: how many bytes from the oldest unacknowledged frame on may be in flight (one frame at least). */
  private window = 0;
  /**
   * Sweeping after a probe: frames sent before the probe may still arrive; an ack past what the sweep sent
   * shows they do, and the sweep skips to the frames never sent. After a new route they are lost.
   */
  private late = false;
  private waiters: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  /**
   * The retransmission clock, in ticks of the timer (one per `retransmitInterval`), so the hot path reads no
   * clock: whether an ack let frames go (or sending began, or recovery did) since the last tick, and ticks
   * without that since.
   */
  private progressed = false;
  private idleTicks = 0;
  /** The wait before the next probe, in `retransmitInterval`s: doubled after each, back to 1 on any ack. */
  private backoff = 1;
  /** Frames sent again, and times this end went back to send again (a probe, or a new route). */
  retransmitted = 0;
  retransmissions = 0;

  constructor(
    private readonly maxBytes: number,
    readonly retransmitInterval: number,
    /** Sends a kept plaintext again (encrypted under a fresh nonce, with the ack as it is by then). */
    private readonly send: (plaintext: Uint8Array) => Promise<void> | undefined,
  ) {}

  /** Bytes held for frames not yet acknowledged. */
  get unackedBytes(): number {
    return this.bytes;
  }

  /** Frames not yet acknowledged. */
  get unackedFrames(): number {
    return this.frames.length - this.head;
  }

  /** Whether the buffer is at its bound: the next message waits for `room()`. */
  get full(): boolean {
    return this.bytes >= this.maxBytes;
  }

  /** Whether a frame sealed now is sent at once (otherwise it waits for recovery to reach it). */
  get sendsNow(): boolean {
    return this.mode === 'sending';
  }

  /** Resolves once acknowledgements made room in the buffer. */
  room(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Numbers the payload in `plaintext[RELIABLE_HEADER_LENGTH..]` (built there by the encryptor, in a buffer
   * of its own: it is kept, not copied, until acknowledged) with the next sequence number and the
   * receiver's `ack`. Returns it, to be sent now if `sendsNow` was true (it then counts as sent).
   */
  seal(plaintext: Uint8Array, ack: number): Uint8Array {
    plaintext[0] = PayloadKind.RELIABLE;
    writeU64(plaintext, 1, this.nextSeq++);
    writeU64(plaintext, RELIABLE_ACK_AT, ack);
    if (this.head === this.frames.length) this.progressed = true;
    this.frames.push({ plaintext, offset: this.sealedBytes });
    this.sealedBytes += plaintext.length;
    this.bytes += plaintext.length;
    if (this.mode === 'sending') this.highSent = this.sent = this.frames.length;
    if (this.timer === undefined) this.arm();
    return plaintext;
  }

  /** The peer received every frame below `next`: they are let go of. Ignores an ack of what was never sent. */
  acknowledge(next: number): void {
    const target = next - (this.nextSeq - this.frames.length);
    if (target <= this.head || target > this.frames.length) return;
    const released = this.offsetOf(target) - this.frames[this.head]!.offset;
    this.bytes -= released;
    const probe = this.head;
    this.head = target;
    this.progressed = true;
    this.backoff = 1;
    if (this.mode === 'probing') {
      this.mode = 'sweeping';
      this.late = true;
      // Past the probe: the frames sent before it are arriving, late. Only the probe: they may be lost,
      // they go again, one frame in flight at first (the probe's size), doubling with each round trip.
      if (target > probe + 1) this.skipToUnsent(target);
      else {
        this.sent = target;
        this.window = released;
      }
      this.sweep();
    } else if (this.mode === 'sweeping') {
      if (this.late && target > this.sent) this.skipToUnsent(target);
      else {
        this.sent = Math.max(this.sent, target);
        this.window += released;
      }
      this.sweep();
    }
    this.compact();
    if (!this.full && this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** The route to the peer changed: what was in flight may be lost; send again from the oldest frame on. */
  retransmit(): void {
    if (this.head === this.frames.length) return;
    this.retransmissions++;
    this.progressed = true;
    this.mode = 'sweeping';
    this.late = false;
    this.sent = this.head;
    this.window = ROUTE_WINDOW;
    this.sweep();
  }

  /** The channel closed: nothing more is sent; waiting senders go on (and find it closed). */
  destroy(): void {
    this.disarm();
    this.frames = [];
    this.head = this.sent = this.highSent = 0;
    this.bytes = 0;
    this.mode = 'sending';
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  /** The frames sent before are arriving after all: only those never sent go, all of them. */
  private skipToUnsent(target: number): void {
    this.sent = Math.max(target, this.highSent);
    this.window = Infinity;
  }

  /** Sends frames from `sent` while the window allows (at least one), then goes back to sending. */
  private sweep(): void {
    const base = this.frames[this.head]?.offset ?? 0;
    const { frames } = this;
    while (
      this.sent < frames.length &&
      (this.sent === this.head || frames[this.sent]!.offset - base < this.window)
    ) {
      this.transmit(this.sent++);
    }
    if (this.sent >= frames.length) this.mode = 'sending';
  }

  private transmit(index: number): void {
    if (index < this.highSent) this.retransmitted++;
    else this.highSent = index + 1;
    this.send(this.frames[index]!.plaintext)?.catch(() => undefined);
  }

  private offsetOf(index: number): number {
    return index < this.frames.length ? this.frames[index]!.offset : this.sealedBytes;
  }

  /** Drops the acknowledged frames from the array once they are most of it. */
  private compact(): void {
    if (this.head <= 1024 || this.head * 2 <= this.frames.length) return;
    const { head } = this;
    this.frames = this.frames.slice(head);
    this.head = 0;
    this.sent -= head;
    this.highSent = Math.max(0, this.highSent - head);
  }

  private arm(): void {
    this.timer = setInterval(this.check, this.retransmitInterval);
    this.timer.unref();
  }

  private disarm(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Every interval while armed: nothing unacknowledged, the timer stops; `backoff` whole intervals without
   * progress (so one to two after the last), a probe.
   */
  private readonly check = (): void => {
    if (this.head === this.frames.length) return this.disarm();
    if (this.progressed) {
      this.progressed = false;
      this.idleTicks = 0;
      return;
    }
    if (++this.idleTicks < this.backoff) return;
    this.idleTicks = 0;
    this.retransmissions++;
    this.backoff = Math.min(2 * this.backoff, MAX_BACKOFF);
    this.mode = 'probing';
    this.sent = this.head + 1;
    this.transmit(this.head);
  };
}
