import type { Address } from '../core/address';
import { ByteParts } from '../core/byte-parts';
import { traceOf, type LocalMessage, type Routed } from '../core/message';
import type { Route } from '../core/route';
import { encodeFrame, encodeFrameHead } from '../core/wire';
import type { Deadline } from '../node/deadlines';
import type { TransportHost } from '../node/transport-host';
import type { ByteStream } from './byte-stream';
import { failureCode } from './connection-failure';
import { TransportError } from './errors';
import { FRAME_HEADER_SIZE, PREAMBLE } from './frame-parser';
import { nextTick, type Timer } from './timers';
import { UnflushedFrames } from './unflushed-frames';

/** What the writing side needs from its connection. */
export interface WriterHost {
  readonly node: TransportHost;
  /** The peer, as the transport names it. */
  readonly remote: string;
  readonly maxFrameSize: number;
  readonly drainTimeoutMs: number;
  /** Closes the connection: the peer did not read in time. */
  fail(reason: TransportError): void;
  /** Reports a message that cannot be written (`tooLarge`: over `maxFrameSize`). */
  undeliverable(message: Routed<unknown>, detail: string, tooLarge?: boolean): void;
}

/**
 * The writing side of a stream connection: frames encoded in one buffer (a large bytes body, such as a
 * forwarded channel frame, written by reference after its frame's head instead of copied), written corked
 * so that frames of one scheduler turn leave together, a sender made to wait while the stream holds more than it takes
 * (bounded by `drainTimeoutMs`), and the frames not yet handed on tracked, so that a stream destroyed with
 * them is reported as dead letters rather than lost.
 */
export class ConnectionWriter {
  private corked = false;
  private closeTimer: Timer | undefined;
  private pendingDrain: (() => void) | undefined;
  /** Frames written that the stream has not handed on yet (streams that can tell). */
  private readonly unflushed: UnflushedFrames | undefined;

  constructor(
    private readonly stream: ByteStream,
    private readonly host: WriterHost,
  ) {
    if (stream.unsentBytes !== undefined) this.unflushed = new UnflushedFrames(() => stream.unsentBytes!());
  }

  /** Writes our preamble: it goes first; frames may follow it at once (the peer checks before reading them). */
  writePreamble(): void {
    this.writeControl(PREAMBLE);
  }

  /** Writes a PING, a PONG or the preamble: nothing a dead letter stands for. */
  writeControl(bytes: Uint8Array): void {
    this.stream.write(bytes);
    this.unflushed?.wrote(bytes.length);
  }

  /**
   * Writes `message` to the peer, without its first hop (this connection); a promise, while the stream holds
   * more than it wants, for its drain. What cannot be written is reported undeliverable.
   */
  send(message: Routed<unknown>): void | Promise<void> {
    const onward = message.onwardRoute.stepForward();
    if (onward.isEmpty) {
      this.host.undeliverable(message, `nothing follows ${this.host.remote} in the onward route`);
      return;
    }
    const { body } = message.message;
    let frame: Uint8Array;
    try {
      if (body instanceof Uint8Array && body.length >= GATHER_MIN_BYTES) {
        return this.writeGathered(
          this.encodeHead(onward, message.message, body.length),
          [body],
          message.message,
        );
      }
      // A secure channel's large frame: its parts, never joined, whatever their size.
      if (body instanceof ByteParts) {
        return this.writeGathered(
          this.encodeHead(onward, message.message, body.length),
          body.parts,
          message.message,
        );
      }
      frame = this.encode(onward, message.message);
    } catch (err) {
      const detail = `it cannot be sent to ${this.host.remote}: ${(err as Error).message}`;
      this.host.undeliverable(message, detail, true);
      return;
    }
    return this.write(frame, message.message);
  }

  /**
   * The head of a frame whose bytes body follows it unchanged (see `GATHER_MIN_BYTES`): length prefix (of
   * the whole frame), routes and body tag. Throws `MessageTooLargeError` over `maxFrameSize`.
   */
  private encodeHead(onward: Route, message: LocalMessage, bodyLength: number): Uint8Array {
    const head = encodeFrameHead(
      onward,
      message.returnRoute,
      bodyLength,
      this.host.maxFrameSize,
      FRAME_HEADER_SIZE,
      traceOf(message),
    );
    writeLength(head, head.length - FRAME_HEADER_SIZE + bodyLength);
    return head;
  }

  /**
   * The whole frame of a message in one buffer: length prefix, routes, body tag and body, each byte written
   * once. Throws `MessageTooLargeError` over `maxFrameSize`.
   */
  private encode(onward: Route, message: LocalMessage): Uint8Array {
    const frame = encodeFrame(
      onward,
      message.returnRoute,
      message.body,
      this.host.maxFrameSize,
      FRAME_HEADER_SIZE,
      traceOf(message),
    );
    writeLength(frame, frame.length - FRAME_HEADER_SIZE);
    return frame;
  }

  /** Writes a frame carrying `message`; a promise, while the stream holds more than it wants, for its drain. */
  private write(frame: Uint8Array, message: LocalMessage): void | Promise<void> {
    this.corkForTurn();
    const taken = this.stream.write(frame);
    this.unflushed?.wrote(frame.length, message);
    if (taken) return;
    return this.waitForDrain();
  }

  /**
   * Writes a frame as its head and then its body's parts, all while corked, so they leave in one `writev`
   * without the body being copied; as `write` otherwise. The body must not change until the stream has sent
   * it, as no sent body may (a sender's `send` settles once the message is queued, before any copy was made).
   */
  private writeGathered(
    head: Uint8Array,
    parts: readonly Uint8Array[],
    message: LocalMessage,
  ): void | Promise<void> {
    this.corkForTurn();
    this.stream.write(head);
    this.unflushed?.wrote(head.length);
    let taken = true;
    const last = parts.length - 1;
    for (let i = 0; i <= last; i++) {
      const part = parts[i]!;
      taken = this.stream.write(part);
      // The message stands for the whole frame: lost unless its last byte was handed on.
      this.unflushed?.wrote(part.length, i === last ? message : undefined);
    }
    if (taken) return;
    return this.waitForDrain();
  }

  /** Frames written in this turn of the scheduler leave together (one writev, one WebSocket message). */
  private corkForTurn(): void {
    if (this.corked) return;
    this.corked = true;
    this.stream.cork();
    nextTick(this.uncork);
  }

  /** The stream took its buffered bytes. */
  drained(): void {
    this.unflushed?.prune();
    this.pendingDrain?.();
  }

  /**
   * The connection closed gracefully: queued bytes are flushed, then the stream ends (destroyed if that
   * takes over `closeTimeoutMs`). A sender waiting for the drain goes on.
   */
  end(closeTimeoutMs: number, reason: TransportError, connection: Address): void {
    if (this.stream.destroyed) {
      this.destroy(reason, connection);
      return;
    }
    const stream = this.stream;
    this.closeTimer = setTimeout(() => stream.destroy(), closeTimeoutMs);
    stream.end();
    this.pendingDrain?.();
  }

  /**
   * The connection closed at once: the stream is destroyed, and each message whose frame it had not handed
   * on is reported undeliverable with the reason. A sender waiting for the drain goes on.
   */
  destroy(reason: TransportError, connection: Address): void {
    const lost = this.unflushed?.takeLost() ?? [];
    this.stream.destroy();
    for (const message of lost) {
      this.host.node.undeliverable(
        message,
        `connection ${connection.value} to ${this.host.remote} closed with its frame unsent: ${reason.message}`,
        { code: failureCode(reason), cause: reason },
      );
    }
    this.pendingDrain?.();
  }

  /** The stream is closed: the graceful close's limit stops. */
  streamClosed(): void {
    clearTimeout(this.closeTimer);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.stream.uncork();
    this.unflushed?.prune();
  };

  /** Waits for the stream to take its buffered bytes; a peer that does not read in time is disconnected. */
  private waitForDrain(): Promise<void> {
    const { drainTimeoutMs } = this.host;
    return new Promise<void>((resolve) => {
      let deadline: Deadline | undefined = undefined;
      const done = (): void => {
        this.pendingDrain = undefined;
        deadline?.cancel();
        resolve();
      };
      // On the node's shared deadlines: they all fire at once when the node stops, so a stop never waits
      // for a peer that does not read.
      deadline = this.host.node.deadline(drainTimeoutMs, (cause) => {
        deadline = undefined;
        if (cause === 'timeout') {
          this.host.fail(new TransportError('TIMEOUT', `the peer did not read for ${drainTimeoutMs} ms`));
        }
        done();
      });
      this.pendingDrain = done;
    });
  }
}

/**
 * A bytes body at least this long is written after its frame's head rather than copied into one buffer
 * with it: a 64 KiB frame's copy was most of a hub's cost of forwarding it. Below, one write of one small
 * buffer costs less than gathering two.
 */
const GATHER_MIN_BYTES = 2048;

/** Writes a frame's length prefix: u32 big-endian (FRAME_HEADER_SIZE is 4). */
function writeLength(frame: Uint8Array, length: number): void {
  frame[0] = length >>> 24;
  frame[1] = (length >>> 16) & 0xff;
  frame[2] = (length >>> 8) & 0xff;
  frame[3] = length & 0xff;
}
