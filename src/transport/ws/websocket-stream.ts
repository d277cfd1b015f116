import type { ByteStream, StreamEvents, StreamSettings } from '../byte-stream';
import { TransportError } from '../errors';
import { refresh, unref, type Timer } from '../timers';

/**
 * The part of a WebSocket this stream uses: the WHATWG interface a browser has, which the `ws` package's
 * WebSocket implements too. `ws` adds `pause`/`resume` (stop reading), a callback on `send` (the bytes left
 * for the socket) and `terminate`; a browser has none of them and is handled without.
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array, callback?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: never) => void): void;
  pause?(): void;
  resume?(): void;
  terminate?(): void;
}

/** The WebSocket `readyState` values (the same in `ws` and browsers). */
const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

/** How a `WebSocketStream` sizes its messages and its send buffer. */
export interface WebSocketStreamLimits {
  /**
   * The largest WebSocket message it sends; the receiving side bounds what it takes in one message to this
   * (`ws`'s `maxPayload`), so a peer cannot make it buffer a huge message before the framing sees a byte.
   */
  readonly maxMessageBytes: number;
  /** `write` returns false once this much waits to be sent (`bufferedAmount`); `drain` follows below half. */
  readonly highWaterBytes: number;
}

/** The defaults: 256 KiB messages, 1 MiB of send buffer. */
export const WEBSOCKET_STREAM_LIMITS: WebSocketStreamLimits = Object.freeze({
  maxMessageBytes: 256 * 1024,
  highWaterBytes: 1024 * 1024,
});

/** How often a browser's `bufferedAmount` is looked at while a writer waits for it to go down. */
const DRAIN_POLL_MS = 4;

/**
 * A WebSocket as a `ByteStream`: the Sealroute byte stream (preamble, length-prefixed frames) carried in
 * binary messages, cut wherever (a message boundary means nothing to the framing, so limits, timeouts and
 * defences are exactly TCP's). Frames written in one turn leave in one message (`cork`); a text message
 * breaks the protocol. Backpressure: `bufferedAmount` against a high-water mark, with `drain` from `ws`'s
 * send callbacks or, in a browser, from polling `bufferedAmount` while a writer waits. A browser cannot stop
 * reading: what arrives while the node is full is held by the framing, within its partial-frame budget.
 */
export class WebSocketStream implements ByteStream {
  private events: StreamEvents | undefined;
  private error: Error | undefined;
  private corked: Uint8Array[] | undefined;
  private corkedBytes = 0;
  private waitingForDrain = false;
  private drainPoll: Timer | undefined;
  private idleTimer: Timer | undefined;
  private idleMs = 0;
  private closed = false;
  private ended = false;

  constructor(
    readonly socket: WebSocketLike,
    private readonly limits: WebSocketStreamLimits = WEBSOCKET_STREAM_LIMITS,
  ) {
    socket.binaryType = 'arraybuffer';
  }

  start(events: StreamEvents, settings: StreamSettings): void {
    this.events = events;
    const socket = this.socket;
    this.idleMs = settings.idleTimeoutMs;
    this.touch();
    if (socket.readyState === CONNECTING) this.cork(); // what is written before the upgrade waits for it
    socket.addEventListener('open', () => {
      this.touch();
      this.uncork();
      events.connect();
    });
    socket.addEventListener('message', (event: { data: unknown }) => this.onMessage(event.data));
    socket.addEventListener('error', (event: { error?: unknown; message?: string }) => {
      const error =
        event.error instanceof Error ? event.error : new Error(event.message ?? 'WebSocket error');
      this.error ??= error;
      // `ws` names what the peer got wrong in the WebSocket framing; a browser says nothing.
      const code = (error as { code?: unknown }).code;
      if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        events.fail(
          new TransportError(
            'FRAME_TOO_LARGE',
            `the peer sent a WebSocket message over ${this.limits.maxMessageBytes} bytes`,
            { cause: error },
          ),
        );
      } else if (typeof code === 'string' && code.startsWith('WS_ERR_')) {
        events.fail(
          new TransportError('MALFORMED', `the peer broke the WebSocket protocol: ${error.message}`, {
            cause: error,
          }),
        );
      }
    });
    socket.addEventListener('close', (event: { code?: number; reason?: string }) => {
      this.onClose(event.code, event.reason);
    });
    if (socket.readyState === CLOSED) queueMicrotask(() => this.onClose(undefined, undefined));
  }

  private onMessage(data: unknown): void {
    if (this.closed) return;
    this.touch();
    if (data instanceof ArrayBuffer) {
      this.events!.data(new Uint8Array(data));
    } else if (ArrayBuffer.isView(data)) {
      this.events!.data(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } else {
      this.events!.fail(
        new TransportError('PROTOCOL_MISMATCH', 'the peer sent a text WebSocket message (binary only)'),
      );
    }
  }

  private onClose(code: number | undefined, reason: string | undefined): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.drainPoll);
    let error = this.error;
    // 1000 is a normal close; 1005 says no code was given. Anything else is the peer's (or ws's) complaint.
    if (error === undefined && code !== undefined && code !== 1000 && code !== 1005) {
      error = Object.assign(new Error(`WebSocket closed with code ${code}${reason ? `: ${reason}` : ''}`), {
        code: `WS_CLOSE_${code}`,
      });
    }
    this.events?.close(error);
  }

  /** Restarts the idle timer: traffic either way. */
  private touch(): void {
    if (this.idleMs <= 0 || this.closed) return;
    if (this.idleTimer === undefined) this.idleTimer = unref(setTimeout(this.idle, this.idleMs));
    else this.idleTimer = refresh(this.idleTimer, this.idleMs, this.idle);
  }

  private readonly idle = (): void => {
    this.idleTimer = undefined;
    if (!this.closed) this.events?.idle();
  };

  write(bytes: Uint8Array): boolean {
    if (this.closed || this.ended) return true;
    if (this.corked !== undefined) {
      this.corked.push(bytes);
      this.corkedBytes += bytes.length;
      if (this.corkedBytes + this.socket.bufferedAmount < this.limits.highWaterBytes) return true;
      this.waitForDrain(); // drained once the corked bytes, sent at uncork, have left
      return false;
    }
    this.send(bytes);
    return this.hasRoom();
  }

  private hasRoom(): boolean {
    if (this.socket.bufferedAmount < this.limits.highWaterBytes) return true;
    this.waitForDrain();
    return false;
  }

  /** Sends bytes in messages of at most `maxMessageBytes`. */
  private send(bytes: Uint8Array): void {
    if (this.socket.readyState !== OPEN) return; // closing: the connection is shutting down anyway
    this.touch();
    const max = this.limits.maxMessageBytes;
    for (let at = 0; at < bytes.length; at += max) {
      const piece = at === 0 && bytes.length <= max ? bytes : bytes.subarray(at, at + max);
      if (this.socket.pause !== undefined) this.socket.send(piece, this.sent);
      else this.socket.send(piece);
    }
  }

  /** A `ws` send callback: the bytes went to the socket, so the buffer may have gone down. */
  private readonly sent = (): void => {
    if (this.waitingForDrain && this.socket.bufferedAmount <= this.limits.highWaterBytes / 2) {
      this.waitingForDrain = false;
      this.events?.drain();
    }
  };

  private waitForDrain(): void {
    if (this.waitingForDrain) return;
    this.waitingForDrain = true;
    if (this.socket.pause === undefined) this.pollDrain();
  }

  private readonly pollDrain = (): void => {
    this.drainPoll = undefined;
    if (!this.waitingForDrain || this.closed) return;
    if (this.socket.bufferedAmount <= this.limits.highWaterBytes / 2) {
      this.waitingForDrain = false;
      this.events?.drain();
      return;
    }
    this.drainPoll = setTimeout(this.pollDrain, DRAIN_POLL_MS);
  };

  cork(): void {
    this.corked ??= [];
  }

  uncork(): void {
    if (this.socket.readyState === CONNECTING) return; // the upgrade uncorks
    const pieces = this.corked;
    this.corked = undefined;
    if (pieces === undefined || pieces.length === 0) return;
    const bytes = this.corkedBytes;
    this.corkedBytes = 0;
    if (pieces.length === 1) {
      this.send(pieces[0]!);
    } else {
      const joined = new Uint8Array(bytes);
      let at = 0;
      for (const piece of pieces) {
        joined.set(piece, at);
        at += piece.length;
      }
      this.send(joined);
    }
    if (this.socket.bufferedAmount >= this.limits.highWaterBytes) this.waitForDrain();
  }

  pause(): void {
    this.socket.pause?.();
  }

  resume(): void {
    this.socket.resume?.();
  }

  end(): void {
    if (this.closed || this.ended) return;
    this.uncork();
    this.ended = true;
    // A close frame after what is queued; the socket closes once the peer answers with its own.
    this.socket.resume?.();
    this.socket.close(1000);
  }

  destroy(): void {
    if (this.closed) return;
    this.corked = undefined;
    if (this.socket.terminate !== undefined) this.socket.terminate();
    else {
      this.socket.close();
      // A browser's close waits for the peer's answer; the connection is done with it now.
      this.onClose(undefined, undefined);
    }
  }

  get destroyed(): boolean {
    return this.closed;
  }
}
