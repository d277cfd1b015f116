import { KIND, MAX_DATA_BYTES } from './messages';

/**
 * The size of a socket read when the kernel had more bytes than it fit: libuv reads into 64 KiB buffers, so
 * a read that long says more bytes are likely waiting (see `SocketSource`). A heuristic: a wrong
 * guess costs a message, never a byte.
 */
export const FULL_READ = 64 * 1024;

/**
 * How long the tail of a full read waits for the next read to fill its DATA (see `SocketSource`).
 * A bulk stream's next read comes sooner; a stream that stops on a read boundary pays this once.
 */
export const TAIL_WAIT_MS = 1;

/**
 * The sending half of a portal session (docs/PROTOCOL.md 5): bytes read from the local socket and not sent
 * yet, in order, sent as DATA messages of up to `MAX_DATA_BYTES` (each byte copied once) within the credit the
 * other end granted. What is pending is at most one message's worth plus one read: the session pauses the
 * socket when the credit runs out.
 *
 * Reads come in 64 KiB, more than a DATA holds, so sending each read as it comes cuts a stream into one full
 * DATA and a sliver per read: twice the messages, AEAD calls, frames and writes at every hop. So after a full
 * read (the kernel had at least that much: a bulk stream) the tail waits for the next read to fill its DATA,
 * at most `TAIL_WAIT_MS`; after a short read (the kernel had nothing more: a request waiting for its answer)
 * everything goes at once.
 */
export class SocketSource {
  private readonly pending: Uint8Array[] = [];
  /** Bytes pending. */
  bytes = 0;
  /** Credit granted by the other end, and what of it is in use. */
  peerWindow = 0;
  private inFlight = 0;
  /** Ends the tail's wait (see `waitForTail`); made on first use. */
  private tailTimer: NodeJS.Timeout | undefined;
  private tailWaiting = false;
  /** Counts the waits begun, so that a flush planned before the last read can tell (see `tailDue`). */
  private tailWaits = 0;
  private tailFlushFor = -1;

  constructor(
    /** The tail waited `TAIL_WAIT_MS` and no read joined it: the session sends it as it is. */
    private readonly tailTimedOut: () => void,
    /** Sends a DATA message carrying `n` bytes of the stream. */
    private readonly sendData: (data: Uint8Array, n: number) => void,
  ) {}

  /** The other end acknowledged `consumed` bytes: what is wrong with that, if anything. */
  acknowledged(consumed: number): string | undefined {
    if (consumed > this.inFlight) return `an ACK of ${consumed} bytes, ${this.inFlight} in flight`;
    this.inFlight -= consumed;
    return undefined;
  }

  /**
   * Sends what is pending as DATA, as far as the credit goes; returns whether some is left for want of
   * credit. Unless `final`, a DATA shorter than `MAX_DATA_BYTES` that the credit would allow waits for more
   * bytes. A sliver of credit is not used while more is pending: it waits for an ACK, which comes, as over
   * half the window is then in flight and the other end acknowledges every quarter.
   */
  pump(final: boolean): boolean {
    while (this.bytes > 0) {
      const credit = this.peerWindow - this.inFlight;
      if (credit <= 0) return true;
      const n = Math.min(credit, MAX_DATA_BYTES, this.bytes);
      if (n === credit && n < this.bytes && n < this.minDataBytes) return true;
      if (!final && n === this.bytes && n < credit && n < MAX_DATA_BYTES) return false;
      this.inFlight += n;
      this.sendData(this.takeData(n), n);
    }
    return false;
  }

  /** The least credit worth a DATA while more bytes are pending (see `pump`). */
  private get minDataBytes(): number {
    return Math.min(MAX_DATA_BYTES, this.peerWindow >>> 1);
  }

  push(chunk: Uint8Array): void {
    this.pending.push(chunk);
    this.bytes += chunk.byteLength;
  }

  /** The next `n` pending bytes as a DATA message: each byte copied once, behind the kind byte. */
  private takeData(n: number): Uint8Array {
    const message = Buffer.allocUnsafe(1 + n);
    message[0] = KIND.DATA;
    let filled = 0;
    const pending = this.pending;
    while (filled < n) {
      const piece = pending[0]!;
      const take = Math.min(piece.byteLength, n - filled);
      if (take === piece.byteLength) {
        message.set(piece, 1 + filled);
        pending.shift();
      } else {
        message.set(piece.subarray(0, take), 1 + filled);
        pending[0] = piece.subarray(take);
      }
      filled += take;
    }
    this.bytes -= n;
    return message;
  }

  /** (Re)starts the wait: the tail waits `TAIL_WAIT_MS` from the last read that left one. */
  waitForTail(): void {
    this.tailWaiting = true;
    this.tailWaits++;
    if (this.tailTimer === undefined) this.tailTimer = setTimeout(this.tailDue, TAIL_WAIT_MS);
    else this.tailTimer.refresh();
  }

  /** The timer is left to run out (`refresh()` cannot rearm a cleared one); `flush` then does nothing. */
  stopTailWait(): void {
    this.tailWaiting = false;
  }

  /** Drops what is pending and the timer (the session ended). */
  clear(): void {
    this.tailWaiting = false;
    clearTimeout(this.tailTimer);
    this.pending.length = 0;
    this.bytes = 0;
  }

  /**
   * The wait is over; the flush goes after this turn's reads, though (`setImmediate`): a process that was
   * descheduled runs its timers before it polls its sockets, where the next read may well be waiting.
   */
  private readonly tailDue = (): void => {
    if (!this.tailWaiting || this.tailFlushFor === this.tailWaits) return;
    this.tailFlushFor = this.tailWaits;
    setImmediate(this.flush);
  };

  private readonly flush = (): void => {
    // A read since `tailDue` took the tail, or began a new wait.
    if (!this.tailWaiting || this.tailFlushFor !== this.tailWaits) return;
    this.tailWaiting = false;
    this.tailTimedOut();
  };
}
