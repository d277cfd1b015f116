import type { Address } from '../core/address';
import type { DeliveryFailureCode } from '../core/delivery-failure';
import { decodeBody } from '../core/codec';
import {
  LocalMessage,
  MessageOrigin,
  ORIGIN_INFO,
  TRANSPORT_INFO,
  type LocalInfo,
  type Routed,
} from '../core/message';
import { decodeTransportMessage, encodeFrame } from '../core/wire';
import type { Context } from '../node/context';
import type { Deadline } from '../node/deadlines';
import type { Logger } from '../node/logger';
import type { TransportHost } from '../node/transport-host';
import type { Worker } from '../node/worker';
import type { ByteStream } from './byte-stream';
import type { ConnectionOptions } from './connection-options';
import { TransportError } from './errors';
import { FRAME_HEADER_SIZE, FrameParser, PREAMBLE } from './frame-parser';
import { nextTick, refresh, setImmediateish, unref, type Timer } from './timers';
import type { ConnectionInfo, TransportConnection } from './transport';
import { UnflushedFrames } from './unflushed-frames';

/** What a connection needs from its transport. */
export interface ConnectionHost {
  /** The node, through its transport host. */
  readonly node: TransportHost;
  readonly options: Required<ConnectionOptions>;
  readonly logger: Logger;
  /** The connection exchanged preambles and carries frames. */
  connectionOpened(connection: StreamConnection): void;
  /** The connection closed (once, with the reason). */
  connectionClosed(connection: StreamConnection, reason: TransportError): void;
  /**
   * Charges `bytes` more of partial frames held by `connection` to the node's budget, making room by
   * closing the connection that holds the most; false if that is `connection` itself.
   */
  chargePartialFrames(connection: StreamConnection, bytes: number): boolean;
  /** Gives back partial frame bytes charged before. */
  releasePartialFrames(bytes: number): void;
  /** An accepted connection was closed because nobody vouched for it in time. */
  unvouchedTimedOut(connection: StreamConnection): void;
}

type ConnectionState = 'connecting' | 'handshaking' | 'open' | 'closed';

/**
 * One connection over a byte stream (a TCP socket, a WebSocket), and the worker at its local address
 * (`<transport>.c.<32 random hex>`). A message whose onward route starts with that address is written to the
 * peer as a frame, without the hop; a frame from the peer is delivered on this node with the address
 * prepended to its return route, so replies go back over the same connection. The worker's handler returns
 * only once the stream has taken the frame (`drain`), so a peer that reads slowly makes senders wait; and
 * while a local mailbox is full the stream stops reading.
 */
export class StreamConnection implements Worker<unknown>, TransportConnection {
  /** True for a connection this node made; false for one a listener accepted. */
  readonly outgoing: boolean;
  private state: ConnectionState;
  private stream: ByteStream | undefined;
  private parser: FrameParser;
  private ctx: Context | undefined;
  private reason: TransportError | undefined;
  private readonly closedPromise: Promise<TransportError>;
  private resolveClosed!: (reason: TransportError) => void;
  private readonly openedPromise: Promise<void>;
  private resolveOpened!: () => void;
  private rejectOpened!: (error: TransportError) => void;
  private streamGone: Promise<void> = Promise.resolve();
  private streamClosed: (() => void) | undefined;
  private closeTimer: Timer | undefined;
  private frameTimer: Timer | undefined;
  /** Whether `frameTimer` times the preamble (the handshake limit) rather than a frame. */
  private frameTimerForHandshake = false;
  private connectTimer: Timer | undefined;
  /** Waiting for a local mailbox to take a received message: the stream is paused meanwhile. */
  private waitingOnDelivery = false;
  private pendingDrain: (() => void) | undefined;
  /** Frames written that the stream has not handed on yet (streams that can tell). */
  private unflushed: UnflushedFrames | undefined;
  private corked = false;
  private stopping = false;
  /** Messages handled; used to notice when the mailbox has drained after the connection closed. */
  private handled = 0;
  // Liveness: one timer per connection; received data only sets a flag.
  private livenessTimer: ReturnType<typeof setInterval> | undefined;
  private livenessPeriod = 0;
  private heard = false;
  private heardAt = 0;
  private lastTick = 0;
  /** Partial frame bytes charged to the node's budget. */
  private charged = 0;
  private vouched: boolean;
  private unvouchedTimer: Timer | undefined;
  /** When it was accepted or made (ms), for eviction of the oldest. */
  readonly since = Date.now();
  private readonly info: LocalInfo;
  private readonly log: Logger;

  constructor(
    private readonly host: ConnectionHost,
    /** The local address of the connection's worker. */
    readonly address: Address,
    /** The peer, as the transport names it (`host:port`). */
    readonly remote: string,
    /** An accepted stream, or how to open one (an outgoing connection, opened by its worker). */
    from: ByteStream | (() => ByteStream),
  ) {
    this.outgoing = typeof from === 'function';
    // A connection this node made is its own doing; one it accepted must be vouched for (see vouch()).
    this.vouched = this.outgoing;
    this.state = this.outgoing ? 'connecting' : 'handshaking';
    this.parser = new FrameParser({ maxFrameSize: host.options.maxFrameSize });
    this.log = host.logger.child({ connection: address.value, remote });
    const vouched = (): boolean => this.vouched;
    const transportInfo: ConnectionInfo = Object.freeze({
      connection: address,
      remote,
      vouch: () => this.vouch(),
      get isVouched() {
        return vouched();
      },
    });
    const origin = MessageOrigin.of({ kind: 'transport', producer: address, info: transportInfo });
    this.info = Object.freeze({ [TRANSPORT_INFO]: transportInfo, [ORIGIN_INFO]: origin });
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    this.openedPromise = new Promise<void>((resolve, reject) => {
      this.resolveOpened = resolve;
      this.rejectOpened = reject;
    });
    this.openedPromise.catch(() => undefined); // observed through opened() or closed()
    if (typeof from === 'function') this.dial = from;
    else this.attach(from);
  }

  private dial: (() => ByteStream) | undefined;

  /** Whether the connection is vouched for: outgoing, or in use (see `TransportOrigin.vouch`). */
  get isVouched(): boolean {
    return this.vouched;
  }

  /** Bytes of partial frames it holds, as charged to the node's budget. */
  get partialFrameBytes(): number {
    return this.charged;
  }

  /**
   * Marks the connection as in use: no longer closed for staying unvouched, nor evicted for a newcomer.
   * See `TransportOrigin.vouch`.
   */
  vouch(): void {
    if (this.vouched) return;
    this.vouched = true;
    clearTimeout(this.unvouchedTimer);
    this.unvouchedTimer = undefined;
  }

  /** Closes it at once for a limit (`LIMIT_REACHED`): evicted for a newcomer, or over a byte budget. */
  evict(why: string): void {
    this.shut(new TransportError('LIMIT_REACHED', why));
  }

  /** True once both preambles were exchanged, until it closes. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** The reason it closed, or undefined while it is not closed. */
  get closeReason(): TransportError | undefined {
    return this.reason;
  }

  /** Resolves with the reason once the connection has closed (never rejects). */
  closed(): Promise<TransportError> {
    return this.closedPromise;
  }

  /** Resolves once the connection is open; rejects with `CONNECT_FAILED` if it closes before. */
  opened(): Promise<void> {
    return this.openedPromise;
  }

  /** Closes the connection gracefully (queued bytes are flushed, bounded by `closeTimeoutMs`). */
  async close(): Promise<void> {
    this.shut(new TransportError('CLOSED_LOCALLY', 'closed by its owner'), true);
    await this.streamGone;
  }

  // --- the worker --------------------------------------------------------------------------------------

  async initialize(ctx: Context): Promise<void> {
    this.ctx = ctx;
    if (!this.outgoing) return;
    this.connectOut();
    // Messages queue in the mailbox (and their senders wait once it is full) until the connection is open.
    await this.openedPromise.catch(() => undefined);
  }

  handleMessage(_ctx: Context, message: Routed<unknown>): void | Promise<void> {
    this.handled++;
    // A message from outside goes out only on the connection it came on, or where a flow control allows.
    if (!this.host.node.admit(message.message, this.address, `connection to ${this.remote}`)) return;
    const stream = this.stream;
    if (this.state === 'closed' || this.state === 'connecting' || stream === undefined) {
      const why = this.reason === undefined ? 'it is not open' : `it closed: ${this.reason.message}`;
      this.undeliverable(
        message,
        `connection ${this.address.value} to ${this.remote} cannot carry it: ${why}`,
      );
      return;
    }
    // Something from a vouched connection (a hub's registered client answering, say) makes this one in use.
    if (!this.vouched) {
      const origin = message.localInfo[TRANSPORT_INFO] as ConnectionInfo | undefined;
      if (origin !== undefined && origin.isVouched === true) this.vouch();
    }
    const onward = message.onwardRoute.stepForward();
    if (onward.isEmpty) {
      this.undeliverable(message, `nothing follows ${this.remote} in the onward route`);
      return;
    }
    let frame: Uint8Array;
    try {
      // The whole frame in one buffer: length prefix, routes, body tag and body, each byte written once.
      frame = encodeFrame(
        onward,
        message.returnRoute,
        message.body,
        this.host.options.maxFrameSize,
        FRAME_HEADER_SIZE,
      );
    } catch (err) {
      this.undeliverable(message, `it cannot be sent to ${this.remote}: ${(err as Error).message}`, true);
      return;
    }
    if (!this.corked) {
      // Frames written in this turn of the scheduler leave together (one writev, one WebSocket message).
      this.corked = true;
      stream.cork();
      nextTick(this.uncork);
    }
    const length = frame.length - FRAME_HEADER_SIZE; // u32 big-endian (FRAME_HEADER_SIZE is 4)
    frame[0] = length >>> 24;
    frame[1] = (length >>> 16) & 0xff;
    frame[2] = (length >>> 8) & 0xff;
    frame[3] = length & 0xff;
    const taken = stream.write(frame);
    this.unflushed?.wrote(frame.length, message.message);
    if (taken) return;
    return this.waitForDrain();
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    this.shut(new TransportError('CLOSED_LOCALLY', 'the connection worker stopped'), true);
    await this.streamGone;
  }

  // --- outgoing ----------------------------------------------------------------------------------------

  private connectOut(): void {
    const { connectTimeoutMs } = this.host.options;
    this.connectTimer = setTimeout(
      () =>
        this.shut(
          new TransportError(
            'CONNECT_FAILED',
            `connecting to ${this.remote} took over ${connectTimeoutMs} ms`,
          ),
        ),
      connectTimeoutMs,
    );
    let stream: ByteStream;
    try {
      stream = this.dial!();
    } catch (err) {
      this.shut(
        new TransportError('CONNECT_FAILED', `cannot connect to ${this.remote}: ${(err as Error).message}`, {
          cause: err,
        }),
      );
      return;
    }
    this.attach(stream);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.stream?.uncork();
    this.unflushed?.prune();
  };

  // --- the stream --------------------------------------------------------------------------------------

  private attach(stream: ByteStream): void {
    this.stream = stream;
    // Frames still in the stream's buffers when it is destroyed are counted as dead letters, not lost.
    if (stream.unsentBytes !== undefined) this.unflushed = new UnflushedFrames(() => stream.unsentBytes!());
    const { keepAliveMs, idleTimeoutMs } = this.host.options;
    this.streamGone = new Promise((resolve) => (this.streamClosed = resolve));
    stream.start(
      {
        data: this.onData,
        drain: () => {
          this.unflushed?.prune();
          this.pendingDrain?.();
        },
        connect: () => {
          if (this.state !== 'connecting') return;
          this.state = 'handshaking';
          this.log.debug({}, 'connected; waiting for the peer preamble');
        },
        fail: (reason) => this.shut(reason),
        idle: () =>
          this.shut(new TransportError('TIMEOUT', `no traffic for ${idleTimeoutMs} ms (idle timeout)`)),
        close: (error) => {
          clearTimeout(this.closeTimer);
          this.onStreamClose(error);
          this.streamClosed?.();
        },
      },
      { idleTimeoutMs, keepAliveMs },
    );
    // Our preamble goes first; frames may follow it at once (the peer checks before reading them).
    stream.write(PREAMBLE);
    this.unflushed?.wrote(PREAMBLE.length);
    this.armFrameTimer(true);
    const { unvouchedTimeoutMs } = this.host.options;
    if (!this.vouched && unvouchedTimeoutMs > 0) {
      this.unvouchedTimer = unref(
        setTimeout(() => {
          this.unvouchedTimer = undefined;
          if (this.state === 'closed') return;
          this.host.unvouchedTimedOut(this);
          this.shut(
            new TransportError(
              'TIMEOUT',
              `nobody vouched for the connection within ${unvouchedTimeoutMs} ms (no forwarder registered, no secure channel completed through it)`,
            ),
          );
        }, unvouchedTimeoutMs),
      );
    }
  }

  private onStreamClose(error: Error | undefined): void {
    if (this.state === 'closed') return;
    if (this.state === 'connecting') {
      const why = error === undefined ? 'the connection closed' : describe(error);
      this.shut(
        new TransportError('CONNECT_FAILED', `cannot connect to ${this.remote}: ${why}`, { cause: error }),
      );
      return;
    }
    let why =
      error === undefined ? 'the peer closed the connection' : `the connection failed: ${describe(error)}`;
    const partial = this.parser.bufferedBytes;
    if (partial > 0) why += ` in the middle of a frame (${partial} bytes discarded)`;
    else if (!this.parser.preambleDone) why += ' before its preamble';
    this.shut(new TransportError('CONNECTION_CLOSED', why, { cause: error }));
  }

  private readonly onData = (chunk: Uint8Array): void => {
    if (this.state === 'closed') return;
    this.heard = true;
    try {
      this.parser.push(chunk);
    } catch (err) {
      this.shut(err as TransportError);
      return;
    }
    this.pump();
    this.chargePartial();
  };

  /** Brings the node's partial-frame budget up to date with what the parser holds. */
  private chargePartial(): void {
    if (this.state === 'closed') return;
    const held = this.parser.bufferedBytes;
    const more = held - this.charged;
    if (more < 0) {
      this.host.releasePartialFrames(-more);
      this.charged = held;
    } else if (more > 0) {
      if (!this.host.chargePartialFrames(this, more)) {
        this.shut(
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
    if (this.waitingOnDelivery) return;
    let progressed = false;
    while (this.state !== 'closed') {
      let event;
      try {
        event = this.parser.next();
      } catch (err) {
        this.shut(err as TransportError);
        return;
      }
      if (event === undefined) break;
      progressed = true;
      if (event.kind === 'preamble') {
        this.onPreamble();
        continue;
      }
      if (event.frame.length <= 1 && this.isLiveness(event.frame)) continue;
      const pending = this.receive(event.frame);
      if (pending !== undefined) {
        // A local mailbox is full: stop reading until it takes the message, so the peer's writes back up
        // into its own stream and its senders wait in turn. Time spent here is not the peer's fault.
        this.waitingOnDelivery = true;
        this.clearFrameTimer();
        this.stream?.pause();
        pending.then(this.resumeAfterDelivery, (err: unknown) => {
          this.deliveryFailed(err);
          this.resumeAfterDelivery();
        });
        return;
      }
    }
    this.armFrameTimer(progressed);
  }

  private readonly resumeAfterDelivery = (): void => {
    this.waitingOnDelivery = false;
    if (this.state === 'closed') return;
    this.stream?.resume();
    this.armFrameTimer(true);
    this.pump();
    this.chargePartial();
  };

  private deliveryFailed(err: unknown): void {
    const code = (err as { code?: unknown }).code;
    // A mailbox that stayed full past the send timeout rejects the sender without recording the message.
    if (code === 'MAILBOX_FULL') {
      this.log.warn({ err }, 'a received message was dropped: its target stayed full');
    }
  }

  private onPreamble(): void {
    if (this.state === 'closed') return;
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.state = 'open';
    this.resolveOpened();
    this.startLiveness();
    this.host.connectionOpened(this);
  }

  /** PING (an empty frame) and PONG (the one byte 0): answered or noted, never delivered. */
  private isLiveness(frame: Uint8Array): boolean {
    if (frame.length === 0) {
      this.stream?.write(PONG);
      this.unflushed?.wrote(PONG.length);
      return true;
    }
    return frame[0] === 0; // PONG; a transport message starts with its version, 1
  }

  private startLiveness(): void {
    const { pingIntervalMs, peerTimeoutMs } = this.host.options;
    if (pingIntervalMs === 0) return;
    this.livenessPeriod = Math.max(
      10,
      Math.min(pingIntervalMs, Math.ceil(peerTimeoutMs / 4) || pingIntervalMs),
    );
    this.lastTick = this.heardAt = performance.now();
    this.livenessTimer = unref(setInterval(this.checkLiveness, this.livenessPeriod));
  }

  private readonly checkLiveness = (): void => {
    if (this.state !== 'open') return;
    const now = performance.now();
    // Reading paused for our own backpressure, or our event loop stalled: not the peer's silence.
    const stalled = now - this.lastTick > 2 * this.livenessPeriod;
    this.lastTick = now;
    if (this.heard || stalled || this.waitingOnDelivery) {
      this.heard = false;
      this.heardAt = now;
    }
    const { pingIntervalMs, peerTimeoutMs } = this.host.options;
    const silent = now - this.heardAt;
    if (peerTimeoutMs > 0 && silent >= peerTimeoutMs) {
      this.shut(
        new TransportError(
          'PEER_UNRESPONSIVE',
          `nothing from ${this.remote} for ${Math.round(silent)} ms, not even a PONG (peer timeout)`,
        ),
      );
    } else if (silent >= pingIntervalMs) {
      this.stream?.write(PING);
      this.unflushed?.wrote(PING.length);
    }
  };

  /** Decodes a frame and hands the message on; a pending promise means the target's mailbox is full. */
  private receive(frame: Uint8Array): Promise<void> | undefined {
    let message: LocalMessage;
    try {
      const decoded = decodeTransportMessage(frame, this.host.options.maxFrameSize);
      message = new LocalMessage(
        decoded.onwardRoute,
        decoded.returnRoute.prepend(this.address),
        decodeBody(decoded.payload),
        this.info,
      );
    } catch (err) {
      this.shut(
        new TransportError(
          'MALFORMED',
          `the peer sent a frame that does not decode: ${(err as Error).message}`,
          {
            cause: err,
          },
        ),
      );
      return undefined;
    }
    return this.host.node.deliver(message);
  }

  /**
   * The partial-frame timer: it runs while a preamble or frame is incomplete and restarts when one
   * completes, so a peer that trickles bytes is closed after `frameTimeoutMs` however steadily it trickles.
   */
  private armFrameTimer(restart: boolean): void {
    if (this.state === 'closed' || this.waitingOnDelivery || !this.parser.inProgress) {
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
    this.shut(
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

  /** Waits for the stream to take its buffered bytes; a peer that does not read in time is disconnected. */
  private waitForDrain(): Promise<void> {
    const { drainTimeoutMs } = this.host.options;
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
          this.shut(new TransportError('TIMEOUT', `the peer did not read for ${drainTimeoutMs} ms`));
        }
        done();
      });
      this.pendingDrain = done;
    });
  }

  /** Closes the connection once, with a reason: gracefully (flush, then end) or at once. */
  private shut(reason: TransportError, graceful = false): void {
    if (this.state === 'closed') return;
    // Only an open connection has anything worth flushing; one still connecting is simply dropped.
    if (this.state !== 'open') graceful = false;
    this.state = 'closed';
    this.reason = reason;
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    clearInterval(this.livenessTimer);
    clearTimeout(this.unvouchedTimer);
    this.unvouchedTimer = undefined;
    this.clearFrameTimer();
    this.parser = new FrameParser({ maxFrameSize: 0 }); // let buffered bytes go
    this.host.releasePartialFrames(this.charged);
    this.charged = 0;
    const stream = this.stream;
    if (stream !== undefined) {
      if (graceful && !stream.destroyed) {
        const target = stream;
        this.closeTimer = setTimeout(() => target.destroy(), this.host.options.closeTimeoutMs);
        stream.end();
      } else {
        const lost = this.unflushed?.takeLost() ?? [];
        stream.destroy();
        for (const message of lost) {
          this.host.node.undeliverable(
            message,
            `connection ${this.address.value} to ${this.remote} closed with its frame unsent: ${reason.message}`,
            { code: failureCode(reason), cause: reason },
          );
        }
      }
    }
    this.pendingDrain?.();
    this.rejectOpened(
      reason.code === 'CONNECT_FAILED'
        ? reason
        : new TransportError('CONNECT_FAILED', `cannot connect to ${this.remote}: ${reason.message}`, {
            cause: reason,
          }),
    );
    this.resolveClosed(reason);
    this.host.connectionClosed(this, reason);
    if (!this.stopping) this.stopWhenDrained();
  }

  /**
   * Stops the worker once the messages already queued for it have been handled (each becomes an
   * `undeliverable` dead letter saying why), rather than dropping them as `worker-stopped`.
   */
  private stopWhenDrained(): void {
    const seen = this.handled;
    setImmediateish(() => {
      if (this.stopping) return;
      if (this.handled !== seen) {
        this.stopWhenDrained();
        return;
      }
      this.stopping = true;
      this.ctx?.stopWorker(this.address).catch(() => undefined);
    });
  }

  private undeliverable(message: Routed<unknown>, detail: string, tooLarge = false): void {
    const cause = this.reason;
    const code = tooLarge ? 'TOO_LARGE' : failureCode(cause);
    this.host.node.undeliverable(message.message, detail, { code, cause });
  }
}

/** What a delivery failure notice says about a message a connection could not carry, by its close reason. */
export function failureCode(reason: TransportError | undefined): DeliveryFailureCode {
  if (reason === undefined) return 'UNDELIVERABLE';
  if (reason.code !== 'CONNECT_FAILED') return 'CONNECTION_LOST';
  let cause: unknown = reason.cause;
  while (cause instanceof TransportError) cause = cause.cause;
  const errno = (cause as { code?: unknown } | undefined)?.code;
  return errno === 'ECONNREFUSED' ? 'CONNECTION_REFUSED' : 'UNREACHABLE';
}

/** A PING: an empty frame. */
const PING = new Uint8Array(FRAME_HEADER_SIZE);
/** A PONG: a frame holding the one byte 0 (transport message version 0 is reserved for it). */
const PONG = Uint8Array.from([0, 0, 0, 1, 0]);

function describe(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code !== 'string' ? error.message : `${code} (${error.message})`;
}
