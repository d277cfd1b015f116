import { ByteParts } from '../core/byte-parts';
import {
  LocalMessage,
  MessageOrigin,
  ORIGIN_INFO,
  TRACE_INFO,
  TRANSPORT_INFO,
  type LocalInfo,
} from '../core/message';
import { decodeFrame, decodeFrameParts } from '../core/wire-parts';
import type { Logger } from '../node/logger';
import type { ConnectionOptions } from './connection-options';
import { TransportError } from './errors';
import { FrameParser } from './frame-parser';
import { refresh, type Timer } from './timers';
import type { ConnectionInfo } from './transport';

/**
 * Frames of at least this many bytes that span socket reads are handed on as views of those reads
 * (`ByteParts`), not copied: a hub's stream connection writes them as they are, the router joins them for
 * any other recipient. Smaller ones are copied (a view would keep whole reads alive for a few bytes).
 */
const PARTS_FROM = 16 * 1024;

/** What the reading side needs from its connection. */
export interface ReaderHost {
  readonly options: Required<ConnectionOptions>;
  readonly logger: Logger;
  /** Whether the connection has closed: nothing more is read. */
  readonly isClosed: boolean;
  /** The peer's preamble arrived. */
  preamble(): void;
  /** The connection as messages from it name it (its address is prepended to their return route). */
  readonly connection: ConnectionInfo;
  /** Whether a frame of at most one byte is a PING or a PONG (handled, not delivered). */
  control(frame: Uint8Array): boolean;
  /** Delivers a received message on the node; a pending promise means the target's mailbox is full. */
  deliver(message: LocalMessage): Promise<void> | undefined;
  /** Stops and restarts the stream's reading (backpressure from a full local mailbox). */
  pause(): void;
  resume(): void;
  /** Closes the connection for what the peer sent (or did not send in time). */
  fail(reason: TransportError): void;
  /** Charges `bytes` more of partial frames to the node's budget; false if this connection must close. */
  charge(bytes: number): boolean;
  /** Gives back partial frame bytes charged before. */
  release(bytes: number): void;
}

/**
 * The reading side of a stream connection: bytes into the frame parser, frames out to the node one at a
 * time, reading paused while a local mailbox is full, partial frames charged to the node's budget, and the
 * partial-frame timer that closes a peer trickling bytes.
 */
export class ConnectionReader {
  private parser: FrameParser;
  /** Waiting for a local mailbox to take a received message: the stream is paused meanwhile. */
  private waiting = false;
  /** Partial frame bytes charged to the node's budget. */
  private charged = 0;
  private frameTimer: Timer | undefined;
  /** Whether `frameTimer` times the preamble (the handshake limit) rather than a frame. */
  private frameTimerForHandshake = false;

  /** What every message from the connection carries in its local info. */
  private readonly info: LocalInfo;

  constructor(private readonly host: ReaderHost) {
    const { connection } = host;
    const origin = MessageOrigin.of({ kind: 'transport', producer: connection.connection, info: connection });
    this.info = Object.freeze({ [TRANSPORT_INFO]: connection, [ORIGIN_INFO]: origin });
    // A large frame that spans reads is handed on as views of them: a hub forwards it without a copy.
    this.parser = new FrameParser({ maxFrameSize: host.options.maxFrameSize, partsFrom: PARTS_FROM });
  }

  /** Whether reading waits for a local mailbox to take a message. */
  get isWaitingOnDelivery(): boolean {
    return this.waiting;
  }

  /** Bytes of partial frames held, as charged to the node's budget. */
  get partialFrameBytes(): number {
    return this.charged;
  }

  /** Why a stream that ended now ended badly, if it did: in the middle of a frame, or before the preamble. */
  get interruption(): string | undefined {
    const partial = this.parser.bufferedBytes;
    if (partial > 0) return `in the middle of a frame (${partial} bytes discarded)`;
    return this.parser.preambleDone ? undefined : 'before its preamble';
  }

  /** Bytes from the stream. */
  readonly push = (chunk: Uint8Array): void => {
    try {
      this.parser.push(chunk);
    } catch (err) {
      this.host.fail(err as TransportError);
      return;
    }
    this.pump();
    this.chargePartial();
  };

  /** Starts the preamble's timer (the stream is attached). */
  start(): void {
    this.armFrameTimer(true);
  }

  /** The connection closed: buffered bytes and their charge go, the timer stops. */
  close(): void {
    this.clearFrameTimer();
    this.parser = new FrameParser({ maxFrameSize: 0 }); // let buffered bytes go
    this.host.release(this.charged);
    this.charged = 0;
  }

  /** Brings the node's partial-frame budget up to date with what the parser holds. */
  private chargePartial(): void {
    if (this.host.isClosed) return;
    const held = this.parser.bufferedBytes;
    const more = held - this.charged;
    if (more < 0) {
      this.host.release(-more);
      this.charged = held;
    } else if (more > 0) {
      if (!this.host.charge(more)) {
        this.host.fail(
          new TransportError(
            'LIMIT_REACHED',
            `the node's partial frames would exceed maxPartialFrameBytes (${this.host.options.maxPartialFrameBytes}), and this connection holds the most (${held} bytes)`,
          ),
        );
        return;
      }
      this.charged = held;
    }
  }

  /** Takes frames out of the parser and delivers them, until it needs bytes or a mailbox makes it wait. */
  private pump(): void {
    if (this.waiting) return;
    let progressed = false;
    while (!this.host.isClosed) {
      let event;
      try {
        event = this.parser.next();
      } catch (err) {
        this.host.fail(err as TransportError);
        return;
      }
      if (event === undefined) break;
      progressed = true;
      if (event.kind === 'preamble') {
        this.host.preamble();
        continue;
      }
      if (event.kind === 'frame' && event.frame.length <= 1 && this.host.control(event.frame)) continue;
      const pending = this.receive(event.kind === 'frame' ? event.frame : event.parts);
      if (pending !== undefined) {
        // A local mailbox is full: stop reading until it takes the message, so the peer's writes back up
        // into its own stream and its senders wait in turn. Time spent here is not the peer's fault.
        this.waiting = true;
        this.clearFrameTimer();
        this.host.pause();
        pending.then(this.resumeAfterDelivery, (err: unknown) => {
          this.deliveryFailed(err);
          this.resumeAfterDelivery();
        });
        return;
      }
    }
    this.armFrameTimer(progressed);
  }

  /** Decodes a frame and hands the message on; a pending promise means the target's mailbox is full. */
  private receive(frame: Uint8Array | ByteParts): Promise<void> | undefined {
    let message: LocalMessage;
    try {
      const { maxFrameSize } = this.host.options;
      const decoded =
        frame instanceof ByteParts ? decodeFrameParts(frame, maxFrameSize) : decodeFrame(frame, maxFrameSize);
      message = new LocalMessage(
        decoded.onwardRoute,
        decoded.returnRoute.prepend(this.host.connection.connection),
        decoded.body,
        // A trace context travels on unchanged (a hub carries it as it came); most frames have none.
        decoded.trace === undefined ? this.info : { ...this.info, [TRACE_INFO]: decoded.trace },
      );
    } catch (err) {
      const detail = `the peer sent a frame that does not decode: ${(err as Error).message}`;
      this.host.fail(new TransportError('MALFORMED', detail, { cause: err }));
      return undefined;
    }
    return this.host.deliver(message);
  }

  private readonly resumeAfterDelivery = (): void => {
    this.waiting = false;
    if (this.host.isClosed) return;
    this.host.resume();
    this.armFrameTimer(true);
    this.pump();
    this.chargePartial();
  };

  private deliveryFailed(err: unknown): void {
    const code = (err as { code?: unknown }).code;
    // A mailbox that stayed full past the send timeout rejects the sender without recording the message.
    if (code === 'MAILBOX_FULL') {
      this.host.logger.warn({ err }, 'a received message was dropped: its target stayed full');
    }
  }

  /**
   * The partial-frame timer: it runs while a preamble or frame is incomplete and restarts when one
   * completes, so a peer that trickles bytes is closed after `frameTimeoutMs` however steadily it trickles.
   */
  private armFrameTimer(restart: boolean): void {
    if (this.host.isClosed || this.waiting || !this.parser.inProgress) {
      this.clearFrameTimer();
      return;
    }
    const handshake = !this.parser.preambleDone;
    const limit = handshake ? this.host.options.handshakeTimeoutMs : this.host.options.frameTimeoutMs;
    if (this.frameTimer !== undefined) {
      if (!restart) return;
      // Under streaming traffic a frame completes with the next one already begun, every few reads:
      // restarting the same timer in place costs far less than clearing it and making another.
      if (this.frameTimerForHandshake === handshake) {
        this.frameTimer = refresh(this.frameTimer, limit, this.frameTimedOut);
        return;
      }
      this.clearFrameTimer();
    }
    this.frameTimerForHandshake = handshake;
    this.frameTimer = setTimeout(this.frameTimedOut, limit);
  }

  private readonly frameTimedOut = (): void => {
    this.frameTimer = undefined;
    const handshake = this.frameTimerForHandshake;
    const limit = handshake ? this.host.options.handshakeTimeoutMs : this.host.options.frameTimeoutMs;
    this.host.fail(
      new TransportError(
        'TIMEOUT',
        handshake
          ? `the peer did not complete its preamble within ${limit} ms`
          : `the peer did not complete a frame within ${limit} ms (${this.parser.bufferedBytes} bytes buffered)`,
      ),
    );
  };

  private clearFrameTimer(): void {
    clearTimeout(this.frameTimer);
    this.frameTimer = undefined;
  }
}
