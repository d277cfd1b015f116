import { credentialSettingsOf } from './channel-credentials';
import { inspect } from 'node:util';
import { EventEmitter } from 'eventemitter3';
import { Address } from '../core/address';
import { LocalMessage, type Routed } from '../core/message';
import { Route } from '../core/route';
import { TrustEveryone } from '../identity';
import { untilQueued, type Context } from '../node/context';
import type { Logger } from '../node/logger';
import { SecureChannelError } from './errors';
import { FrameType, decodeHello, decodeResume, encodeRefused } from './frames';
import { channelPattern, protocolRefusal, refusalFor } from './channel-protocols';
import { Handshake } from './handshake';
import { HandshakeWorker } from './handshake-worker';
import { ListenerAdmission, sourceOf } from './listener-admission';
import { SECURE_CHANNEL_DEFAULTS, type ChannelLimits, type SecureChannelListenerOptions } from './options';
import type { SecureChannel } from './secure-channel';
export type { SecureChannelListenerOptions } from './options';
import type { LocalStatic } from './static-keys';
import { ThrottledLog } from '../node/throttled-log';

/** Counters of a listener. */
export interface SecureChannelListenerStats {
  /** HELLOs that started a responder. */
  handshakesStarted: number;
  channelsOpened: number;
  /** Handshakes that ended without a channel (the refusals below included). */
  handshakesFailed: number;
  /** HELLOs refused because their source had `maxPendingHandshakesPerSource` in progress. */
  refusedBusy: number;
  /** Handshakes given up to make room for a HELLO from a source with fewer pending (`maxPendingHandshakes`). */
  handshakesEvicted: number;
  /** Handshake frames (or refusal notices) that did not verify at a responder: dropped, the handshake went on. */
  rejectedFrames: number;
  /** HELLOs refused for their protocol. */
  refusedProtocol: number;
  /** Responders that ran out of `handshakeTimeout`. */
  timedOut: number;
  /** Messages that were not a HELLO frame. */
  malformed: number;
  /** Channels closed to make room under `maxChannelsPerIdentity`. */
  evicted: number;
}

/** Events a listener emits. */
export interface SecureChannelListenerEvents {
  /** A channel opened; `channel.remoteIdentifier` says with whom. */
  channelOpened: [SecureChannel];
  /** A handshake ended without a channel. */
  handshakeFailed: [SecureChannelError];
  /** A channel this listener opened has closed. */
  channelClosed: [SecureChannel];
}

/**
 * Accepts secure channels at one address: each HELLO gets its own responder (a decryptor worker at a fresh
 * address) that runs the handshake, so one slow or hostile initiator holds up no one else. Bounded: at most
 * `maxPendingHandshakes` at once, each for at most `handshakeTimeout`; every refusal is counted, logged and
 * emitted as `handshakeFailed`.
 */
export class SecureChannelListener extends EventEmitter<SecureChannelListenerEvents> {
  readonly stats: SecureChannelListenerStats = {
    handshakesStarted: 0,
    channelsOpened: 0,
    handshakesFailed: 0,
    refusedBusy: 0,
    handshakesEvicted: 0,
    rejectedFrames: 0,
    refusedProtocol: 0,
    timedOut: 0,
    malformed: 0,
    evicted: 0,
  };
  private readonly admission = new ListenerAdmission();
  private readonly open = new Set<SecureChannel>();
  /** Open reliable channels by their decryptor's address: where RESUME frames go. */
  private readonly resumable = new Map<string, SecureChannel>();
  private readonly warnings: ThrottledLog;
  private readonly accepted: ReadonlySet<string> | undefined;
  private stopping: Promise<void> | undefined;

  /** @internal Use `createSecureChannelListener`. */
  constructor(
    private readonly ctx: Context,
    /** The listener's address: initiators' routes end here. */
    readonly address: Address,
    private readonly local: LocalStatic,
    private readonly options: SecureChannelListenerOptions,
    private readonly limits: ChannelLimits,
    private readonly maxPending: number,
    private readonly maxPendingPerSource: number,
    private readonly handshakeTimeout: number,
    private readonly logger: Logger,
    private readonly maxPerIdentity: number = SECURE_CHANNEL_DEFAULTS.maxChannelsPerIdentity,
  ) {
    super();
    this.warnings = new ThrottledLog(logger, 10);
    const listed = options.protocol;
    if (listed !== undefined) {
      const names = typeof listed === 'string' ? [listed] : listed;
      for (const name of names) {
        if (channelPattern(name) === 'NK' && options.trustPolicy !== TrustEveryone) {
          throw new SecureChannelError(
            'INVALID_OPTIONS',
            `${name}: NK initiators are anonymous, so only a TrustEveryone listener can accept them`,
          );
        }
      }
      this.accepted = new Set(names);
    }
  }

  /** The listener's Noise static public key: what IK and NK initiators pass as `remoteStaticKey`. */
  get staticPublicKey(): Uint8Array {
    return this.local.key.publicKey.slice();
  }

  /** The identifier of the identity the listener proves. */
  get identifier(): string {
    return this.local.identity.identifier;
  }

  /** Channels opened through this listener and still open. */
  get channels(): ReadonlySet<SecureChannel> {
    return this.open;
  }

  /** Handshakes in progress. */
  get pendingHandshakes(): number {
    return this.admission.pendingCount;
  }

  /** What `JSON.stringify` and loggers show: public facts only, never the static key's vault. */
  toJSON(): Record<string, unknown> {
    return {
      address: this.address.toString(),
      identifier: this.identifier,
      trustPolicy: this.options.trustPolicy.name,
      channels: this.open.size,
      pendingHandshakes: this.admission.pendingCount,
    };
  }

  /** What `console.log` and `util.inspect` show: the same public facts. */
  [inspect.custom](): string {
    return `SecureChannelListener ${JSON.stringify(this.toJSON())}`;
  }

  /**
   * Stops accepting: the listener's worker stops and handshakes in progress fail with `CLOSED`. Channels
   * already open stay open (close them through `channels`).
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.ctx.hasWorker(this.address)) await this.ctx.stopWorker(this.address);
      for (const worker of this.admission.handshakes()) {
        worker.fail(new SecureChannelError('CLOSED', 'the listener stopped'), true);
      }
    })();
    return this.stopping;
  }

  /** @internal The listener worker's handler: one HELLO, one responder. */
  async accept(message: Routed): Promise<void> {
    const frame = message.body;
    if (frame instanceof Uint8Array && frame[0] === FrameType.RESUME) return this.resume(message, frame);
    if (!(frame instanceof Uint8Array) || frame[0] !== FrameType.HELLO) {
      this.stats.malformed++;
      this.warnings.warn(
        { listener: this.address.key },
        'secure channel listener ignored a message that is not a HELLO',
      );
      return;
    }
    let protocolName: string;
    try {
      protocolName = decodeHello(frame).protocolName;
    } catch {
      this.stats.malformed++;
      this.warnings.warn({ listener: this.address.key }, 'secure channel listener ignored a malformed HELLO');
      return;
    }
    const source = sourceOf(message.returnRoute);
    const refusal = this.check(protocolName, source);
    if (refusal !== undefined) return this.refuse(refusal, message.returnRoute);
    if (this.admission.pendingCount >= this.maxPending) this.evict();

    let handshake: Handshake;
    try {
      const credentials = credentialSettingsOf(this.options, this.local.identity.vault);
      handshake = await Handshake.create(false, protocolName, {
        local: this.local,
        ...(credentials === undefined ? {} : { credentials }),
        trustPolicy: this.options.trustPolicy,
        parameters: { maxMessageSize: this.limits.maxMessageSize, rekeyInterval: this.limits.rekeyInterval },
      });
    } catch (error) {
      return this.refuse(error as SecureChannelError, message.returnRoute);
    }
    const address = Address.unique('sc.r.');
    const finished = (): void => {
      clearTimeout(timer);
      this.admission.endHandshake(decryptor);
    };
    const decryptor: HandshakeWorker = new HandshakeWorker(
      address,
      handshake,
      this.limits,
      {
        onOpen: (channel) => {
          finished();
          this.stats.channelsOpened++;
          this.open.add(channel);
          if (channel.delivery === 'reliable') this.resumable.set(channel.decryptorAddress.key, channel);
          this.admit(channel);
          void channel.closed().then(() => {
            this.open.delete(channel);
            this.resumable.delete(channel.decryptorAddress.key);
            this.admission.releaseChannel(channel);
            this.emit('channelClosed', channel);
          });
          this.emit('channelOpened', channel);
        },
        onFail: (error) => {
          finished();
          this.failed(error);
        },
        onRejectedFrame: () => {
          this.stats.rejectedFrames++;
        },
      },
      this.logger.child({ responder: address.key }),
    );
    this.admission.startHandshake(decryptor, source);
    this.stats.handshakesStarted++;
    const timer = setTimeout(() => {
      this.stats.timedOut++;
      const rejected = decryptor.rejectedFrames;
      const detail = rejected > 0 ? ` (${rejected} frame(s) that did not verify were dropped)` : '';
      decryptor.fail(
        new SecureChannelError(
          'TIMEOUT',
          `handshake not complete within ${this.handshakeTimeout} ms${detail}`,
        ),
        true,
      );
    }, this.handshakeTimeout);
    timer.unref();
    try {
      await this.ctx.startWorker(address, decryptor, { acceptsTransportMessages: true });
    } catch (cause) {
      decryptor.fail(
        new SecureChannelError('CLOSED', 'could not start a responder', { cause }),
        true,
        message.returnRoute,
      );
      return;
    }
    await untilQueued(this.ctx.deliver(message.message.withRoutes(Route.of([address]), message.returnRoute)));
  }

  /**
   * A frame of a reliable channel whose initiator lost its route and resumes through this listener: the DATA
   * frame inside goes to the channel's decryptor, which authenticates it (anything else is dropped there)
   * and sends by the route it came by from then on. One that names no open reliable channel is malformed.
   */
  private async resume(message: Routed, frame: Uint8Array): Promise<void> {
    const resume = decodeResume(frame);
    const channel = resume === undefined ? undefined : this.resumable.get(resume.id);
    if (channel === undefined) {
      this.stats.malformed++;
      this.warnings.warn(
        { listener: this.address.key },
        'secure channel listener ignored a RESUME frame for no open reliable channel',
      );
      return;
    }
    const to = Route.of([channel.decryptorAddress]);
    await untilQueued(
      this.ctx.deliver(new LocalMessage(to, message.returnRoute, resume!.data, message.localInfo)),
    );
  }

  /** Counts a new channel against its peer's identity; closes that peer's oldest channel if over the cap. */
  private admit(channel: SecureChannel): void {
    for (const oldest of this.admission.admitChannel(channel, this.maxPerIdentity)) {
      this.stats.evicted++;
      this.warnings.warn(
        { listener: this.address.key, remote: channel.remoteIdentifier, max: this.maxPerIdentity },
        'closed the oldest channel of a peer over maxChannelsPerIdentity',
      );
      void oldest.close();
    }
  }

  /** Why a HELLO for `protocolName` from `source` is refused before any work, if it is. */
  private check(protocolName: string, source: string): SecureChannelError | undefined {
    const refusal = protocolRefusal(protocolName, this.accepted, this.options.trustPolicy);
    if (refusal !== undefined) return refusal;
    const fromSource = this.admission.fromSource(source);
    if (fromSource >= this.maxPendingPerSource) {
      return new SecureChannelError(
        'TOO_MANY_HANDSHAKES',
        `${fromSource} handshakes in progress from one source (maxPendingHandshakesPerSource)`,
      );
    }
    return undefined;
  }

  /** Makes room for one more handshake (see `ListenerAdmission.evictionVictim`). */
  private evict(): void {
    const victim = this.admission.evictionVictim();
    if (victim === undefined) return;
    this.stats.handshakesEvicted++;
    victim.fail(
      new SecureChannelError(
        'TOO_MANY_HANDSHAKES',
        `given up for a newer handshake: ${this.admission.pendingCount} in progress (maxPendingHandshakes)`,
      ),
      true,
    );
    this.admission.endHandshake(victim); // fail() reports through onFail, which ends it too; in case it had ended
  }

  private refuse(error: SecureChannelError, returnRoute: Route): void {
    if (error.code === 'TOO_MANY_HANDSHAKES') this.stats.refusedBusy++;
    if (error.code === 'UNSUPPORTED_PROTOCOL') this.stats.refusedProtocol++;
    const frame = encodeRefused(refusalFor(error));
    untilQueued(this.ctx.deliver(new LocalMessage(returnRoute, Route.of([this.address]), frame)))?.catch(
      (err: unknown) => this.logger.debug({ err }, 'could not send a refusal'),
    );
    this.failed(error);
  }

  private failed(error: SecureChannelError): void {
    this.stats.handshakesFailed++;
    this.warnings.warn(
      { listener: this.address.key, code: error.code, err: error },
      `secure channel handshake failed: ${error.message}`,
    );
    this.emit('handshakeFailed', error);
  }
}
