import type { Address } from '../core/address';
import type { Routed } from '../core/message';
import type { Context } from '../node/context';
import type { Logger } from '../node/logger';
import type { TransportHost } from '../node/transport-host';
import type { Worker } from '../node/worker';
import type { ByteStream } from './byte-stream';
import { failureCode, streamClosedReason } from './connection-failure';
import { ConnectionLiveness } from './connection-liveness';
import type { ConnectionOptions } from './connection-options';
import { ConnectionReader } from './connection-reader';
import { ConnectionVouching } from './connection-vouching';
import { ConnectionWriter } from './connection-writer';
import { TransportError } from './errors';
import { setImmediateish, type Timer } from './timers';
import type { TransportConnection } from './transport';

/** What a connection needs from its transport. */
export interface ConnectionHost {
  readonly node: TransportHost; // the node, through its transport host
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
 * while a local mailbox is full the stream stops reading. Reading, writing and liveness are its parts
 * (`ConnectionReader`, `ConnectionWriter`, `ConnectionLiveness`); this class holds the lifecycle.
 */
export class StreamConnection implements Worker<unknown>, TransportConnection {
  /** A secure channel's frame made of parts is written as its parts (`ConnectionWriter.send`). */
  readonly takesByteParts = true;
  /** True for a connection this node made; false for one a listener accepted. */
  readonly outgoing: boolean;
  private state: ConnectionState;
  private stream: ByteStream | undefined;
  private writer: ConnectionWriter | undefined;
  private readonly reader: ConnectionReader;
  private readonly liveness: ConnectionLiveness;
  private ctx: Context | undefined;
  private reason: TransportError | undefined;
  private readonly closedPromise: Promise<TransportError>;
  private resolveClosed!: (reason: TransportError) => void;
  private readonly openedPromise: Promise<void>;
  private resolveOpened!: () => void;
  private rejectOpened!: (error: TransportError) => void;
  private streamGone: Promise<void> = Promise.resolve();
  private streamClosed: (() => void) | undefined;
  private connectTimer: Timer | undefined;
  private stopping = false;
  private handled = 0; // messages handled: tells when the mailbox has drained after the connection closed
  private readonly vouching: ConnectionVouching;
  /** When it was accepted or made (ms), for eviction of the oldest. */
  readonly since = Date.now();
  private readonly log: Logger;
  private readonly exitName: string; // what a refusal at this way out names it, made once

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
    this.vouching = new ConnectionVouching(this.outgoing);
    this.state = this.outgoing ? 'connecting' : 'handshaking';
    this.log = host.logger.child({ connection: address.value, remote });
    this.exitName = `connection to ${remote}`;
    const connection = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the parts' hosts read its state
    this.reader = new ConnectionReader({
      options: host.options,
      logger: this.log,
      get isClosed() {
        return connection.state === 'closed';
      },
      preamble: () => this.onPreamble(),
      connection: this.vouching.info(address, remote),
      control: (frame) => this.liveness.isControl(frame),
      deliver: (message) => host.node.deliver(message),
      pause: () => this.stream?.pause(),
      resume: () => this.stream?.resume(),
      fail: (reason) => this.shut(reason),
      charge: (bytes) => host.chargePartialFrames(this, bytes),
      release: (bytes) => host.releasePartialFrames(bytes),
    });
    this.liveness = new ConnectionLiveness(host.options, {
      remote,
      get isOpen() {
        return connection.state === 'open';
      },
      get isReadingPaused() {
        return connection.reader.isWaitingOnDelivery;
      },
      writeControl: (frame) => this.writer?.writeControl(frame),
      fail: (reason) => this.shut(reason),
    });
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
    return this.vouching.isVouched;
  }

  /** Bytes of partial frames it holds, as charged to the node's budget. */
  get partialFrameBytes(): number {
    return this.reader.partialFrameBytes;
  }

  /** Marks the connection in use: no longer closed for staying unvouched, nor evicted (`TransportOrigin.vouch`). */
  vouch(): void {
    this.vouching.vouch();
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
    if (!this.host.node.admit(message.message, this.address, this.exitName)) return;
    const writer = this.writer;
    if (this.state === 'closed' || this.state === 'connecting' || writer === undefined) {
      const why = this.reason === undefined ? 'it is not open' : `it closed: ${this.reason.message}`;
      this.undeliverable(
        message,
        `connection ${this.address.value} to ${this.remote} cannot carry it: ${why}`,
      );
      return;
    }
    if (!this.vouching.isVouched) this.vouching.vouchIfFromVouched(message);
    return writer.send(message);
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    this.shut(new TransportError('CLOSED_LOCALLY', 'the connection worker stopped'), true);
    await this.streamGone;
  }

  // --- the stream --------------------------------------------------------------------------------------

  private connectOut(): void {
    const { connectTimeoutMs } = this.host.options;
    const tooLong = `connecting to ${this.remote} took over ${connectTimeoutMs} ms`;
    this.connectTimer = setTimeout(
      () => this.shut(new TransportError('CONNECT_FAILED', tooLong)),
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

  private attach(stream: ByteStream): void {
    this.stream = stream;
    const { keepAliveMs, idleTimeoutMs, maxFrameSize, drainTimeoutMs } = this.host.options;
    const writer = (this.writer = new ConnectionWriter(stream, {
      node: this.host.node,
      remote: this.remote,
      maxFrameSize,
      drainTimeoutMs,
      fail: (reason) => this.shut(reason),
      undeliverable: (message, detail, tooLarge) => this.undeliverable(message, detail, tooLarge),
    }));
    this.streamGone = new Promise((resolve) => (this.streamClosed = resolve));
    stream.start(
      {
        data: this.onData,
        drain: () => writer.drained(),
        connect: () => {
          if (this.state !== 'connecting') return;
          this.state = 'handshaking';
          this.log.debug({}, 'connected; waiting for the peer preamble');
        },
        fail: (reason) => this.shut(reason),
        idle: () =>
          this.shut(new TransportError('TIMEOUT', `no traffic for ${idleTimeoutMs} ms (idle timeout)`)),
        close: (error) => {
          writer.streamClosed();
          if (this.state !== 'closed') {
            const connecting = this.state === 'connecting';
            this.shut(streamClosedReason(this.remote, connecting, error, this.reader.interruption));
          }
          this.streamClosed?.();
        },
      },
      { idleTimeoutMs, keepAliveMs },
    );
    writer.writePreamble();
    this.reader.start();
    const { unvouchedTimeoutMs } = this.host.options;
    this.vouching.start(unvouchedTimeoutMs, () => {
      if (this.state === 'closed') return;
      this.host.unvouchedTimedOut(this);
      this.shut(
        new TransportError(
          'TIMEOUT',
          `nobody vouched for the connection within ${unvouchedTimeoutMs} ms (no forwarder registered, no secure channel completed through it)`,
        ),
      );
    });
  }

  private readonly onData = (chunk: Uint8Array): void => {
    if (this.state === 'closed') return;
    this.liveness.heard = true;
    this.reader.push(chunk);
  };

  private onPreamble(): void {
    if (this.state === 'closed') return;
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.state = 'open';
    this.resolveOpened();
    this.liveness.start();
    this.host.connectionOpened(this);
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
    this.liveness.stop();
    this.vouching.stop();
    this.reader.close();
    if (graceful) this.writer?.end(this.host.options.closeTimeoutMs, reason, this.address);
    else this.writer?.destroy(reason, this.address);
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
