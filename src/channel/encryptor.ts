import { LocalMessage, type Routed } from '../core/message';
import { Route } from '../core/route';
import { TAG_LENGTH } from '../noise';
import { untilQueued, type Context } from '../node/context';
import { ReplyAddress } from '../node/router';
import type { Worker } from '../node/worker';
import { Envelope } from './envelope';
import { SendKeys } from './epoch-keys';
import { SecureChannelError } from './errors';
import {
  CHUNK_HEADER_LENGTH,
  CHUNK_PIECE_LENGTH,
  DATA_HEADER_LENGTH,
  FrameType,
  MAX_SINGLE_FRAME_MESSAGE,
  PayloadKind,
  allocate,
  scratch,
  writeU32,
  writeU64,
} from './frames';
import type { ChannelInit, SecureChannel } from './secure-channel';

function noop(): void {}

/**
 * The sending half of a channel end: the worker at the channel's address, the send keys and chunking. It
 * takes messages made by workers of this node only (never from a transport, nor out of another channel,
 * unless `FlowControls` allow it: it would encrypt whatever a network peer asked, under this node's
 * identity), encrypts each together with the rest of its onward route and its return route (`Envelope`), and
 * sends the DATA frames to the peer's decryptor. A message it cannot carry (the channel closed, over the size
 * limit) becomes a dead letter (`undeliverable`) saying why. Its handler returns a promise only under
 * backpressure, so a slow route slows its senders down.
 */
export class Encryptor implements Worker {
  private readonly sendKeys: SendKeys;
  /** The decryptor's context: frames leave from the decryptor's address, so replies come back to it. */
  private readonly ctx: Context;
  private readonly peerRoute: Route;
  private readonly replyRoute: Route;
  private nextMessageId = 0;
  /** Set when the channel closes: the keys are gone. */
  private closed = false;

  constructor(
    private readonly channel: SecureChannel,
    init: ChannelInit,
  ) {
    this.ctx = init.ctx;
    this.peerRoute = init.peerRoute;
    this.replyRoute = Route.of([init.decryptorAddress]);
    // Our sending key rekeys on our schedule (the receiving key on the one the peer announced).
    this.sendKeys = new SendKeys(init.outcome.ciphers.send, init.limits.rekeyInterval);
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
      return this.transmit(message.onwardRoute.stepForward(), message.returnRoute, message.body);
    } catch (error) {
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
  }

  shutdown(): void {
    this.channel.end.lifecycle.encryptorStopped();
  }

  /**
   * Encrypts a message into one frame, or into chunks when it is larger than one Noise message, and hands
   * them to the next hop. Throws `CLOSED` or `TOO_LARGE` before anything is sent. Returns a promise only
   * while the next hop applies backpressure.
   */
  transmit(onwardRoute: Route, returnRoute: Route, body: unknown): Promise<void> | undefined {
    const { channel } = this;
    if (this.closed) {
      throw new SecureChannelError(
        'CLOSED',
        `secure channel ${channel.address.key} is closed (${channel.closeReason})`,
      );
    }
    const envelope = Envelope.of(onwardRoute, returnRoute, body, channel.maxMessageSize);
    channel.stats.messagesSent++;
    const slot = returnRoute.recipient;
    if (slot instanceof ReplyAddress) channel.end.lifecycle.trackRequest(slot);
    if (envelope.length <= MAX_SINGLE_FRAME_MESSAGE) {
      scratch[0] = PayloadKind.MESSAGE;
      envelope.write(0, envelope.length, scratch, 1);
      return this.sendFrame(scratch.subarray(0, 1 + envelope.length));
    }
    const id = this.nextMessageId;
    this.nextMessageId = (id + 1) >>> 0;
    return this.sendPieces(envelope.inPieces(), id, 0);
  }

  /** Sends a payload of `kind` alone (ACCEPTED, CLOSE, PING, PONG). Never rejects. */
  sendControl(kind: number): Promise<void> {
    try {
      return this.sendFrame(Uint8Array.of(kind))?.catch(noop) ?? Promise.resolve();
    } catch {
      return Promise.resolve(); // out of nonces: the channel is as good as closed
    }
  }

  /** Wipes the send key: the channel closed. */
  destroy(): void {
    this.closed = true;
    this.sendKeys.destroy();
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
    const pieces = Math.ceil(length / CHUNK_PIECE_LENGTH);
    for (let index = from; index < pieces; index++) {
      const offset = index * CHUNK_PIECE_LENGTH;
      const size = Math.min(CHUNK_PIECE_LENGTH, length - offset);
      scratch[0] = PayloadKind.CHUNK;
      writeU32(scratch, 1, id);
      writeU32(scratch, 5, length);
      writeU32(scratch, 9, index);
      envelope.write(offset, size, scratch, CHUNK_HEADER_LENGTH);
      const pending = this.sendFrame(scratch.subarray(0, CHUNK_HEADER_LENGTH + size));
      // Under backpressure, wait before encrypting the next piece: frames in flight stay bounded.
      if (pending !== undefined) {
        return index + 1 < pieces ? pending.then(() => this.sendPieces(envelope, id, index + 1)) : pending;
      }
    }
    return undefined;
  }

  /** Encrypts one plaintext as `DATA nonce:u64 ciphertext` and sends it to the peer's decryptor. */
  private sendFrame(plaintext: Uint8Array): Promise<void> | undefined {
    if (this.closed) return undefined; // the route was lost mid-message: keys are gone
    // Encrypted straight into the frame, after its header: no ciphertext array of its own to copy.
    const frame = allocate(DATA_HEADER_LENGTH + plaintext.length + TAG_LENGTH);
    const nonce = this.sendKeys.encryptInto(plaintext, frame, DATA_HEADER_LENGTH);
    frame[0] = FrameType.DATA;
    writeU64(frame, 1, nonce);
    this.channel.stats.framesSent++;
    const sent = this.ctx.deliver(new LocalMessage(this.peerRoute, this.replyRoute, frame));
    // Refused on the spot: the first hop toward the peer (a connection, a relay client) is gone.
    if (sent.status === 'refused') this.channel.end.lifecycle.routeLost(sent.letter.code);
    return untilQueued(sent);
  }
}
