import type { ConnectionOptions } from './connection-options';
import { TransportError } from './errors';
import { FRAME_HEADER_SIZE } from './frame-parser';
import { unref } from './timers';

/** A PING: an empty frame. */
const PING = new Uint8Array(FRAME_HEADER_SIZE);
/** A PONG: a frame holding the one byte 0 (transport message version 0 is reserved for it). */
const PONG = Uint8Array.from([0, 0, 0, 1, 0]);

/** What liveness needs from its connection. */
export interface LivenessHost {
  /** The peer, as the transport names it. */
  readonly remote: string;
  /** Whether the connection is open (a closed one has nothing to check). */
  readonly isOpen: boolean;
  /** Whether reading is paused for our own backpressure (a full local mailbox): not the peer's silence. */
  readonly isReadingPaused: boolean;
  /** Writes a PING or PONG to the peer. */
  writeControl(frame: Uint8Array): void;
  /** The peer stayed silent too long (`PEER_UNRESPONSIVE`): close the connection. */
  fail(reason: TransportError): void;
}

/**
 * A connection's liveness: one timer per connection that PINGs a quiet peer every `pingIntervalMs` and
 * gives up on one silent for `peerTimeoutMs`. Received data only sets a flag (`heard`), so the hot path
 * pays nothing.
 */
export class ConnectionLiveness {
  /** Something came from the peer since the last tick. */
  heard = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private period = 0;
  private heardAt = 0;
  private lastTick = 0;

  private readonly pingIntervalMs: number;
  private readonly peerTimeoutMs: number;

  constructor(
    options: Pick<Required<ConnectionOptions>, 'pingIntervalMs' | 'peerTimeoutMs'>,
    private readonly host: LivenessHost,
  ) {
    this.pingIntervalMs = options.pingIntervalMs;
    this.peerTimeoutMs = options.peerTimeoutMs;
  }

  /** Starts the timer (the connection opened); a no-op with `pingIntervalMs` 0. */
  start(): void {
    if (this.pingIntervalMs === 0) return;
    this.period = Math.max(
      10,
      Math.min(this.pingIntervalMs, Math.ceil(this.peerTimeoutMs / 4) || this.pingIntervalMs),
    );
    this.lastTick = this.heardAt = performance.now();
    this.timer = unref(setInterval(this.check, this.period));
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Whether `frame` (of at most one byte) is a PING (an empty frame, answered) or a PONG (the one byte 0,
   * noted): neither is delivered. A transport message starts with its version, 1.
   */
  isControl(frame: Uint8Array): boolean {
    if (frame.length === 0) {
      this.host.writeControl(PONG);
      return true;
    }
    return frame[0] === 0;
  }

  private readonly check = (): void => {
    if (!this.host.isOpen) return;
    const now = performance.now();
    // Reading paused for our own backpressure, or our event loop stalled: not the peer's silence.
    const stalled = now - this.lastTick > 2 * this.period;
    this.lastTick = now;
    if (this.heard || stalled || this.host.isReadingPaused) {
      this.heard = false;
      this.heardAt = now;
    }
    const silent = now - this.heardAt;
    if (this.peerTimeoutMs > 0 && silent >= this.peerTimeoutMs) {
      const why = `nothing from ${this.host.remote} for ${Math.round(silent)} ms, not even a PONG (peer timeout)`;
      this.host.fail(new TransportError('PEER_UNRESPONSIVE', why));
    } else if (silent >= this.pingIntervalMs) this.host.writeControl(PING);
  };
}
