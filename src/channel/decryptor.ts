import { LocalMessage, TRACE_INFO, type LocalInfo } from '../core/message';
import type { Route } from '../core/route';
import { LastRoute } from '../core/route-cache';
import type { ByteBudget } from '../node/byte-budget';
import { untilQueued, type Context } from '../node/context';
import { decryptedInfo, type SecureChannelInfo } from './access';
import { secureChannelMemory } from './channel-memory';
import { decodeEnvelope, type LastRoutes, type OpenedEnvelope } from './envelope';
import { ReceiveKeys } from './epoch-keys';
import { SecureChannelError, type SecureChannelErrorCode } from './errors';
import {
  RELIABLE_PIECE_LENGTH,
  CHUNK_HEADER_LENGTH,
  DATA_HEADER_LENGTH,
  MIN_DATA_FRAME,
  PayloadKind,
  readU32,
  readU64,
} from './frames';
import type { ChannelLimits } from './options';
import { Reassembly } from './reassembly';
import { ReliableReceiver, takeAck } from './reliable';
import { FrameOrder, type FrameOrderHost } from './frame-order';
import type { NonceGap } from './reorder-buffer';
import { ReplayWindow } from './replay-window';
import type { ChannelInit, DroppedFrames, SecureChannel } from './secure-channel';
import { ThrottledLog } from '../node/throttled-log';

const dropCounter: Partial<Record<SecureChannelErrorCode, keyof DroppedFrames>> = {
  DECRYPT_FAILED: 'decryptFailed',
  REPLAYED: 'replayed',
  TOO_OLD: 'tooOld',
  MALFORMED: 'malformed',
  TOO_LARGE: 'tooLarge',
};

/**
 * The receiving half of a channel end: the receive keys, the replay window, sending order and reassembly.
 * Each DATA frame is checked against the window, decrypted under the key of its epoch, then acted on in
 * sending order: a message is decoded and forwarded on as coming from this channel, a piece reassembled,
 * a CLOSE closes, a PING is answered. A frame ahead of a missing one is held (see `FrameOrder`).
 */
export class Decryptor implements FrameOrderHost {
  private readonly ctx: Context;
  /** @internal Read by this end's `FrameOrder`, whose host the decryptor is. */
  readonly limits: ChannelLimits;
  private readonly receiveKeys: ReceiveKeys;
  private readonly window: ReplayWindow;
  private readonly reassembly: Reassembly;
  private readonly order: FrameOrder;
  /** @internal Read by this end's `FrameOrder`. */
  readonly memory: ByteBudget;
  private readonly dropLog: ThrottledLog;
  private readonly info: SecureChannelInfo;
  /** What this end's decrypted messages carry: the channel, and the path its frames came by (see `via`). */
  private localInfo: LocalInfo;
  /** The local info of the frame being received, and the one `localInfo` was worked out for. */
  private via: LocalInfo | undefined;
  private localInfoVia: LocalInfo | undefined;
  /** Set when the channel closes: the keys are gone. */
  private closed = false;
  /** Reliable channels: what arrived in sequence, and the acknowledgements. */
  readonly reliable: ReliableReceiver | undefined;
  /** The routes of the last message decoded, and its return route with this channel in front. */
  private readonly lastRoutes: LastRoutes = { onward: new LastRoute(), back: new LastRoute() };
  private lastReturnRoute: Route | undefined;
  private lastReplyRoute: Route | undefined;

  constructor(
    private readonly channel: SecureChannel,
    init: ChannelInit,
  ) {
    const { limits } = init;
    this.ctx = init.ctx;
    this.limits = limits;
    this.receiveKeys = new ReceiveKeys(init.outcome.ciphers.receive, init.outcome.peer.rekeyInterval);
    this.window = new ReplayWindow(limits.replayWindow);
    this.memory = secureChannelMemory(init.ctx.node);
    this.dropLog = new ThrottledLog(init.logger, 10);
    this.reassembly = new Reassembly(
      limits.maxMessageSize,
      limits.maxPartialMessages,
      limits.maxReassemblyBytes,
      this.memory,
      () => {
        channel.stats.dropped.evicted++;
        this.dropLog.warn(
          { channel: channel.address.key },
          'gave up a partial message to make room for a new one',
        );
      },
      init.reliable ? RELIABLE_PIECE_LENGTH : undefined,
    );
    this.reliable = init.reliable
      ? new ReliableReceiver((ack) => void channel.end.encryptor.sendUnsequenced(ack))
      : undefined;
    this.info = Object.freeze({
      identifier: channel.remoteIdentifier,
      identity: channel.remoteIdentity,
      channel: channel.address,
      ...(channel.remoteIdentity?.credentials === undefined
        ? {}
        : { credentials: channel.remoteIdentity.credentials }),
    });
    this.localInfo = decryptedInfo(this.info, undefined);
    // The decryptor is the host itself: no closures per channel end for what it only forwards.
    this.order = new FrameOrder(this);
  }

  /**
   * Handles one DATA frame from the peer: replay check, decryption under the key of the frame's epoch, then,
   * in sending order, delivery, reassembly or close. Returns a promise only under backpressure.
   */
  receive(frame: Uint8Array, via?: LocalInfo, from?: Route): Promise<void> | undefined {
    if (this.closed) return undefined;
    this.via = via;
    if (frame.length < MIN_DATA_FRAME) return this.drop('MALFORMED', 'a frame too short to be one');
    const nonce = readU64(frame, 1);
    if (nonce < 0) return this.drop('MALFORMED', 'a nonce out of range');
    // Checked before decrypting (cheap) and recorded only after the frame authenticated.
    const verdict = this.window.check(nonce);
    if (verdict !== 'fresh') {
      return verdict === 'replayed'
        ? this.drop('REPLAYED', `a replayed frame (nonce ${nonce})`)
        : this.drop('TOO_OLD', `a frame older than the replay window (nonce ${nonce})`);
    }
    if (nonce < this.order.next) {
      return this.drop('TOO_OLD', `a frame that arrived after its gap was reported (nonce ${nonce})`);
    }
    let plaintext: Uint8Array;
    try {
      plaintext = this.receiveKeys.decrypt(nonce, frame.subarray(DATA_HEADER_LENGTH));
    } catch (error) {
      const code = error instanceof SecureChannelError ? error.code : 'DECRYPT_FAILED';
      return this.drop(
        code,
        code === 'DECRYPT_FAILED' ? 'a frame that does not authenticate' : 'an unusable frame',
      );
    }
    this.window.mark(nonce);
    this.channel.stats.framesReceived++;
    if (this.reliable !== undefined) {
      // Sequence numbers order a reliable channel, whose retransmissions come under fresh nonces; and the
      // peer is where its authenticated frames come from.
      if (from !== undefined) this.channel.end.encryptor.adopt(from);
      return this.process(plaintext);
    }
    return this.order.accept(nonce, plaintext);
  }

  /** Counts, logs and reports a frame that is not delivered. */
  drop(code: SecureChannelErrorCode, what: string): undefined {
    const { channel } = this;
    channel.stats.dropped[dropCounter[code] ?? 'malformed']++;
    this.dropLog.warn({ channel: channel.address.key, code }, `secure channel dropped ${what}`);
    if (channel.listenerCount('frameDropped') > 0) {
      channel.emit('frameDropped', new SecureChannelError(code, `dropped ${what}`));
    }
    return undefined;
  }

  /** Reliable channels: the acknowledgement a frame going back carries. */
  ackToSend(): number {
    return this.reliable!.piggyback();
  }

  /** Wipes the keys and lets go of everything held: the channel closed. */
  destroy(): void {
    this.closed = true;
    this.reliable?.destroy();
    this.receiveKeys.destroy();
    this.reassembly.clear();
    this.order.clear();
  }

  /** @internal `FrameOrderHost`: whether the channel closed. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal `FrameOrderHost`: a frame arrived ahead of a missing one and is held. */
  held(): void {
    this.channel.stats.framesReordered++;
  }

  /** @internal Acts on one authenticated plaintext, in sending order (`FrameOrderHost`). */
  process(plaintext: Uint8Array): Promise<void> | undefined {
    switch (plaintext[0]) {
      case PayloadKind.MESSAGE:
        return this.deliver(plaintext.subarray(1));
      case PayloadKind.CHUNK:
        return this.receivePiece(plaintext);
      case PayloadKind.ACCEPTED:
        return plaintext.length === 1 ? undefined : this.drop('MALFORMED', 'a malformed accept');
      case PayloadKind.CLOSE:
        this.channel.end.lifecycle.teardown('remote');
        return undefined;
      case PayloadKind.PING:
        if (plaintext.length !== 1) return this.drop('MALFORMED', 'a malformed ping');
        void this.channel.end.encryptor.sendControl(PayloadKind.PONG);
        return undefined;
      case PayloadKind.PONG:
        if (plaintext.length !== 1) return this.drop('MALFORMED', 'a malformed pong');
        this.channel.end.liveness.answered(); // the way to the peer drains: sends held for congestion go on
        return undefined;
      case PayloadKind.RELIABLE: {
        // Acted on if it is the next in sequence; a duplicate or one ahead of a gap is counted and dropped.
        const { encryptor } = this.channel.end;
        const taken = this.reliable === undefined ? null : this.reliable.take(plaintext, encryptor.reliable!);
        if (taken === null) return this.drop('MALFORMED', 'a malformed or unexpected reliable frame');
        return taken === undefined ? undefined : this.process(taken);
      }
      case PayloadKind.ACK:
        return takeAck(plaintext, this.channel.end.encryptor.reliable)
          ? undefined
          : this.drop('MALFORMED', 'a malformed or unexpected ack');
      case PayloadKind.CREDENTIALS:
        // Verified (or dropped, counted and logged) by the channel's credentials: channel-credentials.ts.
        if (this.channel.credentials === undefined) return this.drop('MALFORMED', 'unexpected credentials');
        this.channel.credentials.receiveRefresh(plaintext.subarray(1), this.channel.credentialHooks);
        return undefined;
      default:
        return this.drop('MALFORMED', 'an unknown payload kind');
    }
  }

  /**
   * @internal `FrameOrderHost`: frames the peer sent never arrived, their gap was given up (counted, logged,
   * and a `gap` event).
   */
  lost(gap: NonceGap): void {
    const { channel } = this;
    const count = gap.to - gap.from + 1;
    channel.stats.missing.gaps++;
    channel.stats.missing.frames += count;
    this.dropLog.warn(
      { channel: channel.address.key, remote: channel.remoteIdentifier, from: gap.from, to: gap.to },
      `secure channel lost ${count} frame(s) from the peer (nonces ${gap.from}..${gap.to}): never arrived`,
    );
    channel.emit('gap', gap);
  }

  private receivePiece(plaintext: Uint8Array): Promise<void> | undefined {
    if (plaintext.length < CHUNK_HEADER_LENGTH) return this.drop('MALFORMED', 'a truncated chunk');
    let whole: Uint8Array | undefined;
    try {
      whole = this.reassembly.add(
        readU32(plaintext, 1),
        readU32(plaintext, 5),
        readU32(plaintext, 9),
        plaintext.subarray(CHUNK_HEADER_LENGTH),
      );
    } catch (error) {
      const e = error as SecureChannelError;
      return this.drop(e.code, e.message);
    }
    return whole === undefined ? undefined : this.deliver(whole);
  }

  /** Decodes a message and forwards it on, as coming from this channel. */
  private deliver(bytes: Uint8Array): Promise<void> | undefined {
    if (bytes.length > this.limits.maxMessageSize) {
      return this.drop('TOO_LARGE', 'a message over the maximum size');
    }
    let message: OpenedEnvelope;
    try {
      message = decodeEnvelope(bytes, this.lastRoutes);
    } catch {
      return this.drop('MALFORMED', 'an authenticated message that does not decode');
    }
    this.channel.stats.messagesReceived++;
    // Frames come by one connection for a channel's whole life as a rule: the info is worked out again only
    // when the path they came by changes, so this costs one comparison per message.
    if (this.via !== this.localInfoVia) {
      this.localInfoVia = this.via;
      this.localInfo = decryptedInfo(this.info, this.via);
    }
    // The same return route as the last message's (the same `Route`, see `LastRoute`): the same reply route.
    if (message.returnRoute !== this.lastReturnRoute) {
      this.lastReturnRoute = message.returnRoute;
      this.lastReplyRoute = message.returnRoute.prepend(this.channel.address);
    }
    // No transport flag: what comes out of a channel is authenticated, and says by whom. Its origin is the
    // path the frame came by followed by this channel, so it goes on only where flow controls allow.
    return untilQueued(
      this.ctx.deliver(
        new LocalMessage(
          message.onwardRoute,
          this.lastReplyRoute!,
          message.body,
          message.trace === undefined ? this.localInfo : { ...this.localInfo, [TRACE_INFO]: message.trace },
        ),
      ),
    );
  }
}
