import type { Socket } from 'node:net';

/**
 * The receiving half of a portal session (docs/PROTOCOL.md 5): the other end's DATA written to the local
 * socket, never more than the window this end granted, and the credit given back as the bytes reach the
 * kernel.
 */
export class SocketSink {
  /** Bytes received and not acknowledged yet (being written, or written and not yet acknowledged). */
  private unacked = 0;
  /** Of those, the bytes written since the last ACK. */
  private written = 0;
  private corked = false;

  constructor(
    private readonly socket: Socket,
    private readonly window: number,
    /** Sends ACK for `consumed` bytes (the session decides whether the stream still takes one). */
    private readonly acknowledge: (consumed: number) => void,
  ) {}

  /**
   * Writes `bytes` to the socket; returns what is wrong instead when they go beyond the window (nothing
   * written: the other end broke the protocol).
   */
  write(bytes: Uint8Array): string | undefined {
    const n = bytes.byteLength;
    this.unacked += n;
    if (this.unacked > this.window) {
      return `${this.unacked} bytes unacknowledged, over its window of ${this.window}`;
    }
    if (!this.corked) {
      // The DATA that arrive together go to the socket in one write (one system call, one wake-up).
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.socket.write(bytes, (error) => {
      if (error === undefined || error === null) this.wrote(n);
    });
    return undefined;
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  /**
   * `n` bytes reached the kernel: credit goes back once a quarter of the window is there, not sooner. An ACK
   * per write (each time the socket's buffer emptied) doubled the messages of request/response traffic; and
   * it is never needed: a sender out of credit means a full window here, of which at most a quarter is
   * written and unacknowledged, so the rest is still to be written and its writes bring the ACK.
   */
  private wrote(n: number): void {
    this.written += n;
    if (this.written >= this.window >>> 2) {
      this.unacked -= this.written;
      this.acknowledge(this.written);
      this.written = 0;
    }
  }
}
