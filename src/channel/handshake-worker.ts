import { Address } from '../core/address';
import { DeliveryFailureNotice } from '../core/delivery-failure';
import { LocalMessage, vouchForOrigin, type LocalInfo, type Routed } from '../core/message';
import { Route } from '../core/route';
import { untilQueued, type Context } from '../node/context';
import type { Logger } from '../node/logger';
import type { Worker } from '../node/worker';
import { SecureChannelError } from './errors';
import { FrameType, PayloadKind, decodeHello, decodeRefused, encodeRefused } from './frames';
import { refusalFor } from './channel-protocols';
import type { Handshake, HandshakeOutcome } from './handshake';
import type { ChannelLimits } from './options';
import { SecureChannel } from './secure-channel';
import { ThrottledLog } from '../node/throttled-log';

/** How the code that started a channel end learns how its handshake ended. */
export interface HandshakeHooks {
  onOpen(channel: SecureChannel): void;
  onFail(error: SecureChannelError): void;
  /** A frame that did not verify was dropped; the handshake goes on. */
  onRejectedFrame?(): void;
}

/**
 * handshake:  exchanging handshake messages.
 * confirming: this side wrote the last handshake message and waits for the peer's ACCEPTED (or any
 *             authenticated frame) or its refusal.
 * open:       DATA frames only (and plain delivery failure notices about our frames).
 * closed:     the handshake failed, or the channel closed.
 */
type Phase = 'handshake' | 'confirming' | 'open' | 'closed';

/** What arrived: a frame type, a plain delivery failure notice, or something that is no frame at all. */
type Event = 'hello' | 'handshake' | 'refused' | 'data' | 'notice' | 'unknown';

const EVENT_OF_FRAME: Readonly<Record<number, Event>> = {
  [FrameType.HELLO]: 'hello',
  [FrameType.HANDSHAKE]: 'handshake',
  [FrameType.REFUSED]: 'refused',
  [FrameType.DATA]: 'data',
};

function eventOf(body: unknown): Event {
  if (body instanceof DeliveryFailureNotice) return 'notice';
  if (body instanceof Uint8Array && body.length > 0) return EVENT_OF_FRAME[body[0]!] ?? 'unknown';
  return 'unknown';
}

function noop(): void {}

/**
 * The worker at the address the peer sends to, the only part of a channel end that accepts transport
 * messages: one switch over (phase, what arrived), ending in `unexpected`. It drives the handshake one frame
 * at a time (so the handshake needs no locking); once the handshake completes it starts the encryptor and,
 * from then on, hands every DATA frame to the channel's decryptor (`decryptor.ts`).
 */
export class HandshakeWorker implements Worker {
  private phase: Phase = 'handshake';
  private ctx: Context | undefined;
  private peerRoute: Route | undefined;
  private channel: SecureChannel | undefined;
  private readonly replyRoute: Route;
  private readonly ignored: ThrottledLog;
  private readonly initiator: boolean;
  /**
   * The handshake and whoever awaits its outcome: needed until the channel opens, then let go. An open
   * channel may live for days, and they hold a spent Noise state and the opener's closures and timer
   * (about 1 KiB per channel end, measured by reliability/scale.ts).
   */
  private handshake: Handshake | undefined;
  private hooks: HandshakeHooks | undefined;
  /** Handshake frames dropped because they did not verify (or a refusal from elsewhere than the peer). */
  private rejected = 0;

  constructor(
    readonly address: Address,
    handshake: Handshake,
    private readonly limits: ChannelLimits,
    hooks: HandshakeHooks,
    private readonly logger: Logger,
    /** A reliable initiator's route to the listener: where it resumes should its route be lost. */
    private readonly resumeVia?: Route,
  ) {
    this.replyRoute = Route.of([address]);
    this.ignored = new ThrottledLog(logger, 10);
    this.initiator = handshake.initiator;
    this.handshake = handshake;
    this.hooks = hooks;
  }

  initialize(ctx: Context): void {
    this.ctx = ctx;
  }

  handleMessage(_ctx: Context, message: Routed): Promise<void> | undefined {
    const frame = message.body;
    // The hot path, before any switch: one synchronous call per frame.
    if (this.phase === 'open' && frame instanceof Uint8Array && frame[0] === FrameType.DATA) {
      return this.channel!.end.decryptor.receive(frame, message.localInfo, message.returnRoute);
    }
    const event = eventOf(frame);
    switch (this.phase) {
      case 'handshake':
        switch (event) {
          case 'hello':
            if (this.initiator || this.peerRoute !== undefined) break;
            return this.onHello(frame as Uint8Array, message);
          case 'handshake':
            return this.onHandshakeMessage((frame as Uint8Array).subarray(1), message, true);
          case 'refused':
            return this.onRefused(frame as Uint8Array, message);
          case 'notice':
            return this.onNotice(frame as DeliveryFailureNotice);
        }
        break;
      case 'confirming':
        switch (event) {
          case 'data':
            return this.onConfirmingFrame(frame as Uint8Array, message.localInfo);
          case 'refused':
            return this.onRefused(frame as Uint8Array, message);
          case 'notice':
            return this.onNotice(frame as DeliveryFailureNotice);
        }
        break;
      case 'open':
        if (event === 'notice') return this.channel!.end.liveness.routeNotice(frame as DeliveryFailureNotice);
        break;
      case 'closed':
        break;
    }
    return this.unexpected(event);
  }

  shutdown(): void {
    if (this.phase === 'open') {
      this.channel!.end.lifecycle.teardown('stopped');
    } else {
      this.fail(
        new SecureChannelError('CLOSED', 'the channel stopped before its handshake completed'),
        false,
      );
    }
  }

  /** Sends a frame to the peer (or to `to`) from this worker's address. */
  send(frame: Uint8Array, to: Route | undefined = this.peerRoute): void {
    if (to === undefined || this.ctx === undefined) return;
    const pending = untilQueued(this.ctx.deliver(new LocalMessage(to, this.replyRoute, frame)));
    pending?.catch((err: unknown) => this.logger.debug({ err }, 'could not send a handshake frame'));
  }

  /**
   * Abandons the handshake: wipes it, tells the peer (a coarse refusal notice) if `notify`, stops this end's
   * workers and reports `error`. Does nothing once the channel is open.
   */
  fail(error: SecureChannelError, notify: boolean, to?: Route): void {
    if (this.phase === 'open' || this.phase === 'closed') return;
    this.phase = 'closed';
    this.handshake?.destroy();
    if (notify) {
      // Once keys are split the peer may already consider the channel open (its ACCEPTED got lost, say):
      // only an authenticated CLOSE can end that; a plaintext notice would be ignored by an open channel.
      if (this.channel !== undefined) void this.channel.end.lifecycle.sendClose();
      this.send(encodeRefused(refusalFor(error)), this.peerRoute ?? to);
    }
    if (this.channel !== undefined) this.channel.end.lifecycle.teardown('failed');
    else if (this.ctx?.hasWorker(this.address)) void this.ctx.stopWorker(this.address).catch(noop);
    this.hooks?.onFail(error);
  }

  /** Frames dropped during the handshake because they did not verify. */
  get rejectedFrames(): number {
    return this.rejected;
  }

  /**
   * What no phase expects: on an open channel, a frame that is not DATA is dropped as `MALFORMED` (counted
   * in its stats); before that, or once closed, it is ignored (logged, throttled).
   */
  private unexpected(event: Event): undefined {
    if (this.phase === 'open') {
      return this.channel!.end.decryptor.drop('MALFORMED', 'a frame that is not DATA on an open channel');
    }
    const what = `an unexpected ${event === 'unknown' ? 'body' : `${event} frame`} in phase ${this.phase}`;
    this.ignored.warn({ decryptor: this.address.key }, `secure channel ignored ${what}`);
    return undefined;
  }

  /** The first handshake message, for this responder alone: one that does not verify fails the handshake. */
  private onHello(frame: Uint8Array, message: Routed): Promise<void> | undefined {
    try {
      return this.onHandshakeMessage(decodeHello(frame).message, message);
    } catch (error) {
      this.fail(error as SecureChannelError, true, message.returnRoute);
      return undefined;
    }
  }

  /** A handshake frame was dropped on its way (plain, like REFUSED: honoured only during the handshake). */
  private onNotice(notice: DeliveryFailureNotice): undefined {
    this.fail(
      new SecureChannelError(notice.code, `a handshake message was not delivered: ${notice.code}`, {
        cause: notice.cause,
      }),
      false,
    );
    return undefined;
  }

  private onRefused(frame: Uint8Array, message: Routed): undefined {
    // A refusal cannot be authenticated: once a verified message told where the peer is, only a notice
    // that came back the same way may end the handshake.
    if (this.peerRoute !== undefined && !this.peerRoute.equals(message.returnRoute)) {
      return this.reject('a refusal notice from elsewhere than the peer');
    }
    const reason = decodeRefused(frame);
    this.fail(
      new SecureChannelError('REFUSED', `the peer refused the handshake (${reason})`, { reason }),
      false,
    );
    return undefined;
  }

  /**
   * Reads one handshake message. One that does not verify leaves the handshake as it was (the Noise state
   * commits only on success): if `tolerant`, it is dropped and counted, since anyone who learns this address
   * can send junk to it, and the timeout decides; a HELLO (the first message, for this responder alone) that
   * does not verify fails the handshake. A message that verified but is refused (trust, a malformed
   * identity payload) always fails it.
   */
  private async onHandshakeMessage(message: Uint8Array, from: Routed, tolerant = false): Promise<void> {
    const returnRoute = from.returnRoute;
    const handshake = this.handshake!;
    const before = handshake.progress;
    let step;
    try {
      step = await handshake.read(message);
    } catch (error) {
      const failure = asChannelError(error);
      if (tolerant && handshake.progress === before && failure.code === 'HANDSHAKE_FAILED') {
        if (this.phase === 'handshake') this.reject('a handshake frame that does not verify');
        return;
      }
      this.fail(failure, true, returnRoute);
      return;
    }
    if (this.phase !== 'handshake') return; // it timed out or stopped meanwhile
    // Only a message that verified may set where the peer is.
    this.peerRoute ??= returnRoute;
    if (step.reply !== undefined) this.send(step.reply);
    if (step.outcome !== undefined) {
      // The peer proved who it is over the connection this came in on: that connection is in use.
      vouchForOrigin(from);
      await this.established(step.outcome);
    }
  }

  private async established(outcome: HandshakeOutcome): Promise<void> {
    const ctx = this.ctx!;
    const channel = new SecureChannel({
      ctx,
      decryptorAddress: this.address,
      replyRoute: this.replyRoute,
      encryptorAddress: Address.unique('sc.e.'),
      peerRoute: this.peerRoute!,
      outcome,
      limits: this.limits,
      initiator: this.initiator,
      logger: this.logger,
      // The initiator asked for it (and said so in its identity payload), or the responder was asked.
      reliable: this.initiator ? this.resumeVia !== undefined : outcome.peer.reliable === true,
      resumeVia: this.resumeVia,
    });
    this.channel = channel;
    try {
      await ctx.startWorker(channel.address, channel.end.encryptor);
    } catch (cause) {
      this.fail(new SecureChannelError('CLOSED', 'could not start the encryptor', { cause }), true);
      return;
    }
    if (this.phase !== 'handshake') return;
    if (outcome.confirms) {
      void channel.end.encryptor.sendControl(PayloadKind.ACCEPTED);
      this.open();
    } else {
      this.phase = 'confirming';
    }
  }

  /** A DATA frame while waiting for ACCEPTED: if it authenticates, the peer accepted us. */
  private onConfirmingFrame(frame: Uint8Array, via: LocalInfo): Promise<void> | undefined {
    const channel = this.channel!;
    const before = channel.stats.framesReceived;
    const pending = channel.end.decryptor.receive(frame, via);
    if (channel.stats.framesReceived > before) {
      if (channel.isClosed) this.fail(new SecureChannelError('CLOSED', 'the peer closed the channel'), false);
      else this.open();
    }
    return pending;
  }

  private open(): void {
    this.phase = 'open';
    const channel = this.channel!;
    this.logger.debug(
      { channel: channel.address.key, remote: channel.remoteIdentifier, protocol: channel.protocolName },
      'secure channel open',
    );
    const hooks = this.hooks!;
    this.handshake = undefined; // split() already wiped its secrets
    this.hooks = undefined;
    hooks.onOpen(channel);
  }

  private reject(what: string): undefined {
    this.rejected++;
    this.hooks?.onRejectedFrame?.();
    this.ignored.warn(
      { decryptor: this.address.key, code: 'HANDSHAKE_FAILED' },
      `secure channel dropped ${what}; the handshake goes on until its timeout`,
    );
    return undefined;
  }
}

function asChannelError(error: unknown): SecureChannelError {
  return error instanceof SecureChannelError
    ? error
    : new SecureChannelError('HANDSHAKE_FAILED', 'handshake failed', { cause: error });
}
