import { LocalMessage, traceOf, type Routed } from '../core/message';
import { Route } from '../core/route';
import { untilQueued, type Context } from '../node/context';
import { ReplyAddress } from '../node/router';
import type { Worker } from '../node/worker';
import { Envelope } from './envelope';
import { SendKeys } from './epoch-keys';
import { SecureChannelError } from './errors';
import {
  CHUNK_HEADER_LENGTH,
  CHUNK_PIECE_LENGTH,
  MAX_SINGLE_FRAME_MESSAGE,
  PayloadKind,
  RELIABLE_ACK_AT,
  RELIABLE_HEADER_LENGTH,
  RELIABLE_PIECE_LENGTH,
  RELIABLE_SINGLE_FRAME_MESSAGE,
  dataFrame,
  encodeResume,
  scratch,
  sealDataFrame,
  writeU32,
  writeU64,
} from './frames';
import { ReliableSender } from './reliable-sender';
import type { ChannelInit, SecureChannel } from './secure-channel';

function noop(): void {}

/**
 * The sending half of a channel end: the worker at the channel's address, the send keys and chunking. It
 * takes messages made by workers of this node only (never from a transport, nor out of another channel,
 * unless `FlowControls` allow it: it would encrypt whatever a network peer asked, under this node's
 * identity), encrypts each together with the rest of its onward route and its return route (`Envelope`), and
 * sends the DATA frames to the peer's decryptor. A message it cannot carry (the channel closed, over the size
 * limit) becomes a dead letter (`undeliverable`) saying why. Its handler returns a promise only under
 * backpressure, so a slow route slows its senders down; so does a hop's `CONGESTED` notice (`Liveness.held`).
 */
export class Encryptor implements Worker {
  private readonly sendKeys: SendKeys;
  /** The decryptor's context: frames leave from the decryptor's address, so replies come back to it. */
  private readonly ctx: Context;
  /** The route to the peer's decryptor: fixed at the handshake, unless the channel is reliable. */
  private route: Route;
  private readonly replyRoute: Route;
  private nextMessageId = 0;
  /** Set when the channel closes: the keys are gone. */
  private closed = false;
  /** Reliable channels: the numbering, the unacknowledged frames and their retransmission. */
  readonly reliable: ReliableSender | undefined;
  /** Reliable channels: whether `route` is believed to work (false from a loss until a frame came back). */
  private routeOk = true;
  /** Reliable initiators: the route the channel was opened by, to resume along, and the peer's decryptor. */
  private readonly resumeVia: Route | undefined;
  private readonly resumeId: string;
  private probeTimer: NodeJS.Timeout | undefined;
  /** Where the payload starts in a plaintext: after the RELIABLE header's room on a reliable channel. */
  private readonly at: number;

  constructor(
    private readonly channel: SecureChannel,
    init: ChannelInit,
  ) {
    this.ctx = init.ctx;
    this.route = init.peerRoute;
    this.replyRoute = init.replyRoute;
    // Our sending key rekeys on our schedule (the receiving key on the one the peer announced).
    this.sendKeys = new SendKeys(init.outcome.ciphers.send, init.limits.rekeyInterval);
    const { maxUnackedBytes, retransmitInterval } = init.limits;
    this.reliable = init.reliable
      ? new ReliableSender(maxUnackedBytes, retransmitInterval, (plaintext) => this.resend(plaintext))
      : undefined;
    this.at = init.reliable ? RELIABLE_HEADER_LENGTH : 0;
    this.resumeVia = init.reliable ? init.resumeVia : undefined;
    this.resumeId = init.peerRoute.recipient?.key ?? '';
  }

  /** The route to the peer's decryptor. */
  get peerRoute(): Route {
    return this.route;
  }

  handleMessage(ctx: Context, message: Routed): Promise<void> | undefined {
    const { channel } = this;
    // A message from outside (out of another channel, say) is refused unless it came out of this very
    // channel or a flow control allows its producer here: Mallory, who has a channel to this node, cannot
    // have her message encrypted into this node's channel to Carol and pass there as this node's own.
    if (!ctx.admit(message.message, channel.address, `secure channel ${channel.address.key}`)) {
      return undefined;
    }
    try {
      const pending = this.transmit(
        message.onwardRoute.stepForward(),
        message.returnRoute,
        message.body,
        traceOf(message),
      );
      // A send may wait (for room on a reliable channel, for a congested peer), and find the channel closed.
      return pending?.catch((error) => this.refuse(ctx, message, error));
    } catch (error) {
      return this.refuse(ctx, message, error);
    }
  }

  /** A message this channel cannot carry becomes a dead letter saying why. */
  private refuse(ctx: Context, message: Routed, error: unknown): undefined {
    const { channel } = this;
    if (!(error instanceof SecureChannelError)) throw error;
    const code =
      error.code === 'TOO_LARGE'
        ? 'TOO_LARGE'
        : channel.closeReason === 'unresponsive'
          ? 'PEER_UNRESPONSIVE'
          : 'CHANNEL_CLOSED';
    ctx.deadLetter(
      'undeliverable',
      `secure channel ${channel.address.key} cannot carry it: ${error.message} (${error.code})`,
      message.message,
      { code, cause: channel.closeError ?? error },
    );
    return undefined;
  }

  shutdown(): void {
    this.channel.end.lifecycle.encryptorStopped();
  }

  /**
   * Encrypts a message into one frame, or into chunks when it is larger than one Noise message, and hands
   * them to the next hop. Throws `CLOSED` or `TOO_LARGE` before anything is sent. Returns a promise only
   * while the next hop applies backpressure.
   */
  transmit(onwardRoute: Route, returnRoute: Route, body: unknown, trace?: string): Promise<void> | undefined {
    const { channel } = this;
    if (this.closed) {
      throw new SecureChannelError(
        'CLOSED',
        `secure channel ${channel.address.key} is closed (${channel.closeReason})`,
      );
    }
    // The trace context goes inside the encrypted message only: the frames themselves carry none.
    const envelope = Envelope.of(onwardRoute, returnRoute, body, channel.maxMessageSize, trace);
    // A hop reported the peer's queue full: wait until the peer answers a PING (backpressure, this channel only).
    const held = channel.end.liveness.held;
    if (held !== undefined) return held.then(() => this.transmit(onwardRoute, returnRoute, body, trace));
    // Reliable: past `maxUnackedBytes` unacknowledged, wait for acknowledgements first (backpressure).
    if (this.reliable?.full === true) {
      return this.reliable.room().then(() => this.transmit(onwardRoute, returnRoute, body, trace));
    }
    channel.stats.messagesSent++;
    const slot = returnRoute.recipient;
    if (slot instanceof ReplyAddress) channel.end.lifecycle.trackRequest(slot);
    const { at } = this;
    if (envelope.length <= (at === 0 ? MAX_SINGLE_FRAME_MESSAGE : RELIABLE_SINGLE_FRAME_MESSAGE)) {
      const end = at + 1 + envelope.length;
      const out = this.payloadBuffer(end);
      out[at] = PayloadKind.MESSAGE;
      if (this.reliable === undefined) {
        // The body is encrypted where it lies, after the head built here: it is never copied in plaintext.
        const body = envelope.writeHead(0, envelope.length, out, 1);
        if (body !== undefined) return this.sendFrame(out.subarray(0, end - body.length), body);
      }
      envelope.write(0, envelope.length, out, at + 1);
      return this.sendPayload(out, end);
    }
    const id = this.nextMessageId;
    this.nextMessageId = (id + 1) >>> 0;
    return this.sendPieces(envelope.inPieces(), id, 0);
  }

  /** Sends a payload of `kind` alone (ACCEPTED, CLOSE, PING, PONG). Never rejects. */
  sendControl(kind: number): Promise<void> {
    return this.sendUnsequenced(Uint8Array.of(kind));
  }

  /** Sends a plaintext outside the reliable numbering (control frames, ACK). Never rejects. */
  sendUnsequenced(plaintext: Uint8Array): Promise<void> {
    try {
      return this.sendFrame(plaintext)?.catch(noop) ?? Promise.resolve();
    } catch {
      return Promise.resolve(); // out of nonces: the channel is as good as closed
    }
  }

  /**
   * Reliable channels: the route to the peer is gone (its connection closed, a frame was dead-lettered).
   * Nothing is sent but control frames until a frame comes back; an initiator probes along `resumeVia`.
   * Returns whether the route was believed to work until now.
   */
  routeDown(): boolean {
    if (!this.routeOk || this.closed) return false;
    this.routeOk = false;
    if (this.resumeVia !== undefined && this.probeTimer === undefined) {
      this.probeTimer = setInterval(() => this.probe(), this.reliable!.retransmitInterval);
      this.probeTimer.unref();
    }
    return true;
  }

  /**
   * Reliable channels: an authenticated frame came back by `route`. If that is not the route this end sends
   * by (or that one was lost), it sends by `route` from now on, and everything unacknowledged goes again.
   */
  adopt(route: Route): void {
    if (this.routeOk && route.equals(this.route)) return;
    const before = this.route;
    this.route = route;
    this.routeOk = true;
    this.stopProbing();
    this.channel.end.lifecycle.routeChanged(before, route);
    this.reliable!.retransmit();
  }

  /** Wipes the send key: the channel closed. */
  destroy(): void {
    this.closed = true;
    this.sendKeys.destroy();
    this.reliable?.destroy();
    this.stopProbing();
  }

  /** A PING to the peer's decryptor, in a RESUME frame to the listener at the end of `resumeVia`. */
  private probe(): void {
    if (this.closed) return;
    const frame = dataFrame(this.sendKeys, Uint8Array.of(PayloadKind.PING));
    this.channel.stats.framesSent++;
    const resume = encodeResume(this.resumeId, frame);
    untilQueued(this.ctx.deliver(new LocalMessage(this.resumeVia!, this.replyRoute, resume)))?.catch(noop);
  }

  private stopProbing(): void {
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }

  /**
   * Where a payload of `length` bytes is built: the shared plaintext buffer (encrypted at once, never kept),
   * or on a reliable channel a buffer of its own, kept until acknowledged (built there, not copied there).
   */
  private payloadBuffer(length: number): Uint8Array {
    return this.reliable === undefined ? scratch : Buffer.allocUnsafe(length);
  }

  /**
   * Sends the payload built in `out` (from `payloadBuffer`) up to `end`: as it is, or on a reliable channel
   * numbered, kept until acknowledged and sent only while the route works.
   */
  private sendPayload(out: Uint8Array, end: number): Promise<void> | undefined {
    const reliable = this.reliable;
    if (reliable === undefined) return this.sendFrame(out.subarray(0, end));
    // A frame held back (recovery sends it later) carries the ack then, not now: it must not count as sent.
    const now = reliable.sendsNow;
    const { decryptor } = this.channel.end;
    const plaintext = reliable.seal(out, now ? decryptor.ackToSend() : 0);
    return now && this.routeOk ? this.sendFrame(plaintext) : undefined;
  }

  /**
   * Reliable channels: sends a kept plaintext again, with the ack as it is now, while the route works. A
   * method, not an arrow field: a default channel end should not carry a closure it never calls.
   */
  private resend(plaintext: Uint8Array): Promise<void> | undefined {
    if (!this.routeOk) return undefined;
    writeU64(plaintext, RELIABLE_ACK_AT, this.channel.end.decryptor.ackToSend());
    return this.sendFrame(plaintext);
  }

  /**
   * Sends pieces `from..` of a chunked message, each built in the shared plaintext buffer just before it is
   * encrypted (so a message never exists as one more whole copy), waiting out backpressure between pieces.
   */
  private sendPieces(envelope: Envelope, id: number, from: number): Promise<void> | undefined {
    if (this.closed) {
      throw new SecureChannelError(
        'CLOSED',
        `secure channel ${this.channel.address.key} closed during a send`,
      );
    }
    const { length } = envelope;
    const { at } = this;
    const pieceLength = at === 0 ? CHUNK_PIECE_LENGTH : RELIABLE_PIECE_LENGTH;
    const pieces = Math.ceil(length / pieceLength);
    for (let index = from; index < pieces; index++) {
      const offset = index * pieceLength;
      const size = Math.min(pieceLength, length - offset);
      const end = at + CHUNK_HEADER_LENGTH + size;
      const out = this.payloadBuffer(end);
      out[at] = PayloadKind.CHUNK;
      writeU32(out, at + 1, id);
      writeU32(out, at + 5, length);
      writeU32(out, at + 9, index);
      // Unreliable: the body's part of the piece is encrypted where it lies, after the head built here.
      const body =
        this.reliable === undefined ? envelope.writeHead(offset, size, out, CHUNK_HEADER_LENGTH) : undefined;
      let pending: Promise<void> | undefined;
      if (body !== undefined) {
        pending = this.sendFrame(out.subarray(0, end - body.length), body);
      } else {
        envelope.write(offset, size, out, at + CHUNK_HEADER_LENGTH);
        pending = this.sendPayload(out, end);
      }
      if (pending === undefined && this.reliable?.full === true) pending = this.reliable.room();
      // Under backpressure, wait before encrypting the next piece: frames in flight stay bounded.
      if (pending !== undefined) {
        return index + 1 < pieces ? pending.then(() => this.sendPieces(envelope, id, index + 1)) : pending;
      }
    }
    return undefined;
  }

  /**
   * Encrypts one plaintext (`plaintext || more`, with `more`) as `DATA nonce:u64 ciphertext` and sends it
   * to the peer's decryptor.
   */
  private sendFrame(plaintext: Uint8Array, more?: Uint8Array): Promise<void> | undefined {
    if (this.closed) return undefined; // the route was lost mid-message: keys are gone
    const frame = sealDataFrame(this.sendKeys, plaintext, more);
    this.channel.stats.framesSent++;
    const sent = this.ctx.deliver(new LocalMessage(this.route, this.replyRoute, frame));
    // Refused on the spot: the first hop toward the peer (a connection, a relay client) is gone.
    if (sent.status === 'refused') this.channel.end.lifecycle.routeLost(sent.letter.code);
    return untilQueued(sent);
  }
}
