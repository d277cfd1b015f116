import { PayloadKind, readU64, writeU64 } from './frames';
/** An ACK plaintext: kind and the next sequence number expected. */
const ACK_LENGTH = 1 + 8;
/** A receiver acknowledges at the latest after this many reliable frames... */
const ACK_EVERY = 32;
/** ... or this many ms after the first unacknowledged one, if no frame going back carried the ack sooner. */
const ACK_DELAY_MS = 5;

/** The longest wait between retransmissions without an acknowledgement, in `retransmitInterval`s. */
const MAX_BACKOFF = 16;

interface Unacked {
  readonly seq: number;
  /** The whole RELIABLE plaintext, kept to be encrypted again (under a fresh nonce) on a retransmission. */
  readonly plaintext: Uint8Array;
}

/**
 * The sending side of a reliable channel end (docs/PROTOCOL.md 4.5): numbers every MESSAGE and CHUNK payload
 * (`RELIABLE seq:u64 ack:u64 payload`), keeps it until the peer acknowledges it, and sends again everything
 * unacknowledged when no acknowledgement came for `retransmitInterval` or the route to the peer changed.
 * The buffer is bounded in bytes (`maxUnackedBytes`): past it, `room()` makes senders wait.
 */
export class ReliableSender {
  private nextSeq = 0;
  /** Unacknowledged plaintexts, oldest first, from `head`. */
  private unacked: Unacked[] = [];
  private head = 0;
  private bytes = 0;
  private waiters: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private progressAt = 0;
  /**
   * The wait before the next retransmission, in `retransmitInterval`s: doubled after each one that brought no
   * acknowledgement (up to 16), back to 1 on any, so a slow peer is not buried under copies of the window.
   */
  private backoff = 1;
  /** Frames sent again, and times everything unacknowledged was sent again. */
  retransmitted = 0;
  retransmissions = 0;

  constructor(
    private readonly maxBytes: number,
    readonly retransmitInterval: number,
    /** Encrypts and sends one plaintext (under a fresh nonce). */
    private readonly send: (plaintext: Uint8Array) => Promise<void> | undefined,
  ) {}

  /** Bytes held for frames not yet acknowledged. */
  get unackedBytes(): number {
    return this.bytes;
  }

  /** Frames not yet acknowledged. */
  get unackedFrames(): number {
    return this.unacked.length - this.head;
  }

  /** Whether the buffer is at its bound: the next message waits for `room()`. */
  get full(): boolean {
    return this.bytes >= this.maxBytes;
  }

  /** Resolves once acknowledgements made room in the buffer. */
  room(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Numbers the payload in `buffer[RELIABLE_HEADER_LENGTH, end)` (built there by the encryptor) with the
   * next sequence number and the receiver's `ack`, keeps a copy until it is acknowledged, and returns it.
   */
  seal(buffer: Uint8Array, end: number, ack: number): Uint8Array {
    buffer[0] = PayloadKind.RELIABLE;
    writeU64(buffer, 1, this.nextSeq);
    writeU64(buffer, 9, ack);
    const plaintext = buffer.slice(0, end);
    this.unacked.push({ seq: this.nextSeq++, plaintext });
    this.bytes += end;
    if (this.timer === undefined) this.arm();
    return plaintext;
  }

  /** The peer received every frame below `next`: they are let go of. Ignores an ack of what was never sent. */
  acknowledge(next: number): void {
    if (next > this.nextSeq) return;
    let moved = false;
    while (this.head < this.unacked.length && this.unacked[this.head]!.seq < next) {
      this.bytes -= this.unacked[this.head++]!.plaintext.length;
      moved = true;
    }
    if (!moved) return;
    this.progressAt = performance.now();
    this.backoff = 1;
    if (this.head > 1024 && this.head * 2 > this.unacked.length) {
      this.unacked = this.unacked.slice(this.head);
      this.head = 0;
    }
    if (this.head === this.unacked.length) this.disarm();
    if (!this.full && this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Sends every unacknowledged frame again, oldest first (a new route, or no ack for too long). */
  retransmit(): void {
    if (this.head === this.unacked.length) return;
    this.retransmissions++;
    this.progressAt = performance.now();
    for (let i = this.head; i < this.unacked.length; i++) {
      this.retransmitted++;
      this.send(this.unacked[i]!.plaintext)?.catch(() => undefined);
    }
  }

  /** The channel closed: nothing more is sent; waiting senders go on (and find it closed). */
  destroy(): void {
    this.disarm();
    this.unacked = [];
    this.head = 0;
    this.bytes = 0;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  private arm(): void {
    this.progressAt = performance.now();
    this.timer = setInterval(this.check, this.retransmitInterval);
    this.timer.unref();
  }

  private disarm(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private readonly check = (): void => {
    if (performance.now() - this.progressAt < this.backoff * this.retransmitInterval) return;
    this.retransmit();
    this.backoff = Math.min(2 * this.backoff, MAX_BACKOFF);
  };
}

/** What a receiver makes of a RELIABLE frame's sequence number. */
export type SequenceVerdict = 'next' | 'duplicate' | 'ahead';

/**
 * The receiving side of a reliable channel end: delivers each sequence number once, in order (one ahead of a
 * missing one is dropped: the sender sends everything unacknowledged again), and acknowledges what it got,
 * piggybacked on its own reliable frames or in an ACK frame at the latest `ACK_EVERY` frames or
 * `ACK_DELAY_MS` later.
 */
export class ReliableReceiver {
  /** The next sequence number to deliver: every one below it was. */
  next = 0;
  /** Frames received twice (a retransmission of one that had arrived), dropped. */
  duplicates = 0;
  /** Frames that came ahead of a missing one, dropped (they come again). */
  ahead = 0;
  private unacked = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** Sends an ACK plaintext. */
    private readonly sendAck: (plaintext: Uint8Array) => void,
  ) {}

  /** Reads a RELIABLE plaintext's header: the verdict on its sequence number, and the peer's ack. */
  receive(plaintext: Uint8Array): { verdict: SequenceVerdict; ack: number } {
    const seq = readU64(plaintext, 1);
    const ack = readU64(plaintext, 9);
    let verdict: SequenceVerdict;
    if (seq === this.next) {
      this.next++;
      verdict = 'next';
    } else if (seq >= 0 && seq < this.next) {
      this.duplicates++;
      verdict = 'duplicate';
    } else {
      this.ahead++;
      verdict = 'ahead';
    }
    // A duplicate or a frame ahead means the sender has not had our ack: it goes within ACK_DELAY_MS (one
    // for a whole retransmitted run, not one per frame).
    if (verdict === 'next' && ++this.unacked >= ACK_EVERY) this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(this.flush, ACK_DELAY_MS);
      this.timer.unref();
    }
    return { verdict, ack };
  }

  /** The ack a reliable frame going back carries: it makes a separate ACK unnecessary. */
  piggyback(): number {
    this.unacked = 0;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    return this.next;
  }

  /** Sends the ACK now. */
  readonly flush = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.unacked = 0;
    const plaintext = new Uint8Array(ACK_LENGTH);
    plaintext[0] = PayloadKind.ACK;
    writeU64(plaintext, 1, this.next);
    this.sendAck(plaintext);
  };

  destroy(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** The `next` of an ACK plaintext, or -1 if it is malformed. */
export function readAck(plaintext: Uint8Array): number {
  return plaintext.length === ACK_LENGTH ? readU64(plaintext, 1) : -1;
}
