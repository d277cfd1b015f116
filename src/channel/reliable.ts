import { PayloadKind, RELIABLE_ACK_AT, RELIABLE_HEADER_LENGTH, readU64, writeU64 } from './frames';
import type { ReliableSender } from './reliable-sender';

/** An ACK plaintext: kind and the next sequence number expected. */
const ACK_LENGTH = 1 + 8;
/** A receiver acknowledges at the latest after this many reliable frames... */
const ACK_EVERY = 32;
/** ... or this many ms after the first unacknowledged one, if no frame going back carried the ack sooner. */
const ACK_DELAY_MS = 5;

/** What a receiver makes of a RELIABLE frame's sequence number. */
export type SequenceVerdict = 'next' | 'duplicate' | 'ahead';

/**
 * The receiving side of a reliable channel end: delivers each sequence number once, in order (one ahead of a
 * missing one is dropped: the sender sends it again, see reliable-sender.ts), and acknowledges what it got,
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
  /** A duplicate or a frame ahead came: the sender needs our ack even if nothing new arrived. */
  private owed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** Sends an ACK plaintext. */
    private readonly sendAck: (plaintext: Uint8Array) => void,
  ) {}

  /** Reads a RELIABLE plaintext's header: the verdict on its sequence number, and the peer's ack. */
  receive(plaintext: Uint8Array): { verdict: SequenceVerdict; ack: number } {
    const seq = readU64(plaintext, 1);
    const ack = readU64(plaintext, RELIABLE_ACK_AT);
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
    if (verdict === 'next') {
      if (++this.unacked >= ACK_EVERY) this.flush();
    } else this.owed = true;
    // One timer at a time, never cleared: an ack that went meanwhile (piggybacked) leaves it nothing to do.
    if (this.timer === undefined && (this.unacked > 0 || this.owed)) {
      this.timer = setTimeout(this.due, ACK_DELAY_MS);
      this.timer.unref();
    }
    return { verdict, ack };
  }

  /**
   * A RELIABLE plaintext from the peer: its ack goes to `sender`. Returns the payload inside if the frame is
   * the next in sequence and holds a MESSAGE or CHUNK plaintext; `undefined` if it is a duplicate or ahead
   * of a gap (counted here); `null` if it is malformed.
   */
  take(plaintext: Uint8Array, sender: ReliableSender): Uint8Array | undefined | null {
    if (plaintext.length <= RELIABLE_HEADER_LENGTH) return null;
    const { verdict, ack } = this.receive(plaintext);
    if (ack >= 0) sender.acknowledge(ack);
    if (verdict !== 'next') return undefined;
    const payload = plaintext.subarray(RELIABLE_HEADER_LENGTH);
    return payload[0] === PayloadKind.MESSAGE || payload[0] === PayloadKind.CHUNK ? payload : null;
  }

  /** The ack a reliable frame going back carries: it makes a separate ACK unnecessary. */
  piggyback(): number {
    this.unacked = 0;
    this.owed = false;
    return this.next;
  }

  private readonly due = (): void => {
    this.timer = undefined;
    if (this.unacked > 0 || this.owed) this.flush();
  };

  /** Sends the ACK now. */
  readonly flush = (): void => {
    this.unacked = 0;
    this.owed = false;
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

/** An ACK plaintext from the peer: its `next` goes to `sender`. False if it is malformed or unexpected. */
export function takeAck(plaintext: Uint8Array, sender: ReliableSender | undefined): boolean {
  const next = plaintext.length === ACK_LENGTH ? readU64(plaintext, 1) : -1;
  if (sender === undefined || next < 0) return false;
  sender.acknowledge(next);
  return true;
}
