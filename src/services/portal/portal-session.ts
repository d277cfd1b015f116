import type { Socket } from 'node:net';
import type { Address } from '../../core/address';
import { DeliveryFailureNotice } from '../../core/delivery-failure';
import type { Routed } from '../../core/message';
import type { Route } from '../../core/route';
import type { Context } from '../../node/context';
import type { Worker } from '../../node/worker';
import { CHANNEL_GONE, PortalError, noticeError } from './errors';
import {
  FIN_MESSAGE,
  KIND,
  RESET_ERROR_CODE,
  decodePortalMessage,
  encodeAck,
  encodeOpen,
  encodeRst,
  type ResetReason,
} from './messages';
import type { SessionHost, SessionInfo } from './session-host';
import { SocketSink } from './socket-sink';
import { FULL_READ, SocketSource } from './socket-source';

type State = 'opening' | 'open' | 'closed';

/** How long a session's worker stays after the session ended (see `finish`). */
export const SESSION_LINGER_MS = 2_000;

function noop(): void {}

/**
 * One TCP connection carried through a portal, at one end: a worker at an unguessable address that turns
 * the socket's bytes into DATA messages to the session at the other end and that session's messages back
 * into bytes (docs/PROTOCOL.md 5). Flow control is by credit: the other end granted `peerWindow` bytes; what
 * was sent and not yet acknowledged never exceeds it, and the socket stops being read when it is used up.
 * What arrives goes to a `SocketSink`, which holds at most this end's window. So each session holds at most
 * a window per direction, wherever the reader is slow, and sessions never wait for each other.
 */
export class PortalSession implements Worker {
  private state: State = 'opening';
  private ctx: Context | undefined;
  private peerRoute: Route | undefined;
  /**
   * Bytes read from the socket and not sent yet: what did not fit the credit (the socket is then paused),
   * or the start of the next DATA while more reads are expected (see `fromSocket`).
   */
  private readonly source = new SocketSource(
    () => this.flush(),
    (data, n) => {
      this.send(this.peerRoute!, data);
      this.bytesSent += n;
      this.host.stats.bytesSent += n;
    },
  );
  private paused = false;
  /** The socket ended while bytes were pending: FIN goes after them. */
  private finPending = false;
  private finSent = false;
  private finReceived = false;
  /** Where the other end's bytes go. */
  private readonly sink: SocketSink;
  private socketError: Error | undefined;
  private openTimer: NodeJS.Timeout | undefined;
  /** What the RST said, or would have said, when this end aborted the session. */
  private resetReason: ResetReason | undefined;
  bytesSent = 0;
  bytesReceived = 0;
  readonly remote: string;

  constructor(
    readonly address: Address,
    private readonly socket: Socket,
    private readonly host: SessionHost,
    /** The local encryptor address of the channel the session travels through (see `sessionAccess`). */
    readonly channelKey: string | undefined,
    readonly remoteIdentifier: string | undefined,
  ) {
    this.sink = new SocketSink(socket, host.limits.windowBytes, this.acknowledge);
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.on('data', (chunk: Buffer) => this.fromSocket(chunk));
    socket.on('end', () => this.socketEnded());
    socket.on('error', (error) => (this.socketError ??= error));
    socket.on('close', () => this.socketClosed());
    const idle = host.limits.idleTimeoutMs;
    if (idle > 0) {
      socket.setTimeout(idle, () => {
        host.stats.limits.idleTimeout++;
        host.peerLog.warn({ session: this.id, idleTimeoutMs: idle }, 'portal session idle: reset');
        this.abort(new PortalError('IDLE_TIMEOUT', `no traffic for ${idle} ms`), 'IDLE_TIMEOUT');
      });
    }
  }

  get id(): string {
    return this.address.key;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  get info(): SessionInfo {
    return {
      id: this.id,
      remoteIdentifier: this.remoteIdentifier,
      remote: this.remote,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
    };
  }

  initialize(ctx: Context): void {
    this.ctx = ctx;
  }

  shutdown(): void {
    // The worker stops: its node stopping, or the session already over.
    this.abort(new PortalError('CLOSED', 'the node stopped'), 'CLOSED');
  }

  /** Inlet: sends OPEN along `to` and waits `timeoutMs` for OPENED. The socket is not read until then. */
  open(to: Route, timeoutMs: number): void {
    this.send(to, encodeOpen(false, this.host.limits.windowBytes));
    this.openTimer = setTimeout(() => {
      this.abort(new PortalError('OPEN_TIMEOUT', `no answer to OPEN within ${timeoutMs} ms`), undefined);
    }, timeoutMs);
  }

  /**
   * A no-op for the other end (an ACK of nothing) that this end's channel encryptor refuses at once if the
   * channel has closed: the refusal comes back as a delivery failure notice, which ends the session and
   * every other one through the channel. Returns false when the session is not open.
   */
  probe(): boolean {
    // Only once open: before its OPENED, the other end would take the ACK for a protocol violation.
    if (this.state !== 'open') return false;
    this.send(this.peerRoute!, encodeAck(0));
    return true;
  }

  /** Outlet: the OPEN's return route and credit, known before the target connects. */
  accept(peerRoute: Route, peerWindow: number): void {
    this.peerRoute = peerRoute;
    this.source.peerWindow = peerWindow;
  }

  /** Outlet: the target accepted: OPENED goes back, and the socket's bytes start to flow. */
  connected(): void {
    if (this.state !== 'opening') return;
    this.send(this.peerRoute!, encodeOpen(true, this.host.limits.windowBytes));
    this.becomeOpen();
  }

  private becomeOpen(): void {
    clearTimeout(this.openTimer);
    this.state = 'open';
    this.host.opened(this);
    this.socket.resume();
  }

  handleMessage(_ctx: Context, message: Routed): void {
    const body = message.body;
    if (this.state === 'closed') return this.afterClose(message);
    if (body instanceof DeliveryFailureNotice) return this.noticed(body);
    if (!(body instanceof Uint8Array)) return this.violation('a body that is not bytes');
    let decoded;
    try {
      decoded = decodePortalMessage(body);
    } catch (error) {
      return this.violation((error as Error).message);
    }
    switch (decoded.kind) {
      case 'OPENED':
        if (this.host.side !== 'inlet' || this.state !== 'opening')
          return this.violation('an unexpected OPENED');
        if (decoded.window < 1024) return this.violation(`a window of ${decoded.window} bytes`);
        this.peerRoute = message.returnRoute;
        this.source.peerWindow = decoded.window;
        return this.becomeOpen();
      case 'DATA':
        return this.fromPeer(decoded.bytes);
      case 'ACK':
        return this.acknowledged(decoded.consumed);
      case 'FIN':
        if (this.state !== 'open' || this.finReceived) return this.violation('an unexpected FIN');
        this.finReceived = true;
        this.socket.end();
        return;
      case 'RST': {
        const code = RESET_ERROR_CODE[decoded.reason];
        const error = new PortalError(code, `the other end reset the session (${decoded.reason})`);
        // The other end's words, logged here: at an inlet this is how "the target is down" shows.
        this.host.logger.info(
          { session: this.id, reason: decoded.reason },
          'portal session reset by the other end',
        );
        return this.finish(error);
      }
      case 'OPEN':
        return this.violation('an OPEN inside a session');
    }
  }

  /**
   * A message for a session that has ended (while its worker lingers). Only an OPENED needs an answer: the
   * inlet closed while the outlet was connecting, so the outlet has yet to learn that the session is over.
   */
  private afterClose(message: Routed): void {
    const body = message.body;
    if (!(body instanceof Uint8Array) || body[0] !== KIND.OPENED) return;
    this.send(message.returnRoute, encodeRst(this.resetReason ?? 'CLOSED'));
  }

  /** A delivery failure notice about one of this session's messages: the session cannot go on. */
  private noticed(notice: DeliveryFailureNotice): void {
    const error = noticeError(notice);
    if (CHANNEL_GONE.has(notice.code) && this.channelKey !== undefined)
      this.host.channelGone(this.channelKey, error);
    this.finish(error);
  }

  private violation(what: string): void {
    this.host.peerLog.warn({ session: this.id, what }, 'portal protocol violation: session reset');
    this.abort(new PortalError('PROTOCOL', `the other end sent ${what}`), 'PROTOCOL');
  }

  private fromPeer(bytes: Uint8Array): void {
    if (this.state !== 'open' || this.finReceived) return this.violation('DATA outside an open stream');
    const excess = this.sink.write(bytes);
    if (excess !== undefined) {
      this.host.stats.limits.windowExceeded++;
      return this.violation(excess);
    }
    this.bytesReceived += bytes.byteLength;
    this.host.stats.bytesReceived += bytes.byteLength;
  }

  /** The sink's credit back to the other end, while the stream from it is open. */
  private readonly acknowledge = (consumed: number): void => {
    if (this.state === 'open' && !this.finReceived) this.send(this.peerRoute!, encodeAck(consumed));
  };

  private acknowledged(consumed: number): void {
    if (this.state !== 'open') return this.violation('an ACK outside an open stream');
    const wrong = this.source.acknowledged(consumed);
    if (wrong !== undefined) return this.violation(wrong);
    if (!this.paused) return;
    if (this.finPending) {
      if (this.source.pump(true)) return;
      this.paused = false;
      return this.sendFin();
    }
    // The socket is read again; a tail shorter than a DATA waits for that read, as in `fromSocket`.
    if (this.source.pump(false)) return;
    this.paused = false;
    this.socket.resume();
    if (this.source.bytes > 0) this.source.waitForTail();
  }

  /** A read from the socket: sent as full DATA as far as the credit goes, the tail as `SocketSource` says. */
  private fromSocket(chunk: Uint8Array): void {
    if (this.state !== 'open' || chunk.byteLength === 0) return;
    this.source.push(chunk);
    const outOfCredit = this.source.pump(chunk.byteLength < FULL_READ);
    if (this.source.bytes === 0) return this.source.stopTailWait();
    if (outOfCredit) {
      // Out of credit: nothing more is read until an ACK comes.
      this.source.stopTailWait();
      if (!this.paused) this.socket.pause();
      this.paused = true;
    } else this.source.waitForTail();
  }

  /** The tail of a full read waited and no read joined it: it goes as it is. */
  private flush(): void {
    if (this.state !== 'open' || this.paused) return;
    if (this.source.pump(true)) {
      // The credit ran out: the rest waits for an ACK, and so does the socket.
      this.socket.pause();
      this.paused = true;
    }
  }

  private socketEnded(): void {
    if (this.state !== 'open') return;
    this.source.stopTailWait();
    if (!this.paused) this.source.pump(true);
    if (this.source.bytes > 0) {
      this.finPending = true;
      if (!this.paused) this.socket.pause();
      this.paused = true;
    } else this.sendFin();
  }

  private sendFin(): void {
    this.finPending = false;
    this.finSent = true;
    this.send(this.peerRoute!, FIN_MESSAGE);
  }

  private socketClosed(): void {
    if (this.state === 'closed') return;
    if (this.finSent && this.finReceived && this.socketError === undefined) return this.finish(undefined);
    const error = new PortalError(
      'CONNECTION_RESET',
      'the TCP connection closed before the session finished',
      {
        cause: this.socketError,
      },
    );
    this.abort(error, 'RESET');
  }

  private send(to: Route, body: Uint8Array): void {
    const ctx = this.ctx;
    if (ctx === undefined) return;
    ctx.sendFrom(this.address, to, body).catch((cause: unknown) => {
      this.finish(new PortalError('CHANNEL_CLOSED', 'a portal message could not be sent', { cause }));
    });
  }

  /** Ends the session, telling the other end why with RST (`reason`) if it knows where that is. */
  abort(error: PortalError, reason: ResetReason | undefined): void {
    if (this.state === 'closed') return;
    this.resetReason = reason;
    if (reason !== undefined && this.peerRoute !== undefined) this.send(this.peerRoute, encodeRst(reason));
    this.finish(error);
  }

  /** Ends the session: the socket is reset on an error (closed on a clean finish) and the worker stops. */
  finish(error: PortalError | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.openTimer);
    this.source.clear();
    if (!this.socket.destroyed) {
      // A reset (RST) tells the local peer the stream did not finish; a socket still connecting has none.
      if (error === undefined || this.socket.connecting) this.socket.destroy();
      else this.socket.resetAndDestroy();
    }
    this.host.ended(this, error);
    // The worker lingers a little, taking in silence what the other end sent before it learnt of the end
    // (a last ACK, a probe): stopped at once, those would be dead letters and notices for nothing.
    const ctx = this.ctx;
    if (ctx !== undefined)
      setTimeout(() => void ctx.stopWorker(this.address).catch(noop), SESSION_LINGER_MS).unref();
  }
}
