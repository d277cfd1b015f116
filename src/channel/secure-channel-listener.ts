import { inspect } from 'node:util';
import { EventEmitter } from 'eventemitter3';
import { Address } from '../core/address';
import { LocalMessage, type Routed } from '../core/message';
import { Route } from '../core/route';
import { TrustEveryone, type Identity } from '../identity';
import type { Context } from '../node/context';
import type { Logger } from '../node/logger';
import type { Worker } from '../node/worker';
import { Decryptor } from './decryptor';
import { SecureChannelError } from './errors';
import { FrameType, decodeHello, encodeRefused } from './frames';
import { Handshake, channelPattern, refusalFor } from './handshake';
import {
  SECURE_CHANNEL_DEFAULTS,
  integer,
  resolveLimits,
  type ChannelEndOptions,
  type ChannelLimits,
} from './options';
import type { SecureChannel } from './secure-channel';
import { localStaticKey, type LocalStatic } from './static-keys';
import { ThrottledLog } from './throttled-log';
import { warnOfTrustEveryone } from './trust-warning';

/** How a listener accepts channels. */
export interface SecureChannelListenerOptions extends ChannelEndOptions {
  /**
   * The Noise protocol name(s) accepted. Default: every XX and IK protocol this implementation speaks, and
   * NK too when the trust policy is `TrustEveryone` (NK initiators are anonymous).
   */
  readonly protocol?: string | readonly string[];
  /** Handshakes in progress at once; a further HELLO is refused (`busy`). Default 256. */
  readonly maxPendingHandshakes?: number;
  /** Milliseconds a responder waits for its handshake to complete. Default 10 s. */
  readonly handshakeTimeout?: number;
  /**
   * Open channels this listener holds per peer identity; when one more opens, that identity's oldest channel
   * is closed (so a peer that restarted is never locked out by its own abandoned channels). Anonymous (NK)
   * initiators are not counted. Default 1,024.
   */
  readonly maxChannelsPerIdentity?: number;
}

/** Counters of a listener. */
export interface SecureChannelListenerStats {
  /** HELLOs that started a responder. */
  handshakesStarted: number;
  channelsOpened: number;
  /** Handshakes that ended without a channel (the refusals below included). */
  handshakesFailed: number;
  /** HELLOs refused because `maxPendingHandshakes` were in progress. */
  refusedBusy: number;
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
    refusedProtocol: 0,
    timedOut: 0,
    malformed: 0,
    evicted: 0,
  };
  private readonly pending = new Set<Decryptor>();
  private readonly open = new Set<SecureChannel>();
  /** Open channels by peer identifier, oldest first (a Set keeps insertion order). */
  private readonly byIdentity = new Map<string, Set<SecureChannel>>();
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
    private readonly handshakeTimeout: number,
    private readonly logger: Logger,
    private readonly maxPerIdentity: number = SECURE_CHANNEL_DEFAULTS.maxChannelsPerIdentity,
  ) {
    super();
    this.warnings = new ThrottledLog(logger);
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
    return this.pending.size;
  }

  /** What `JSON.stringify` and loggers show: public facts only, never the static key's vault. */
  toJSON(): Record<string, unknown> {
    return {
      address: this.address.toString(),
      identifier: this.identifier,
      trustPolicy: this.options.trustPolicy.name,
      channels: this.open.size,
      pendingHandshakes: this.pending.size,
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
      if (this.ctx.node.hasWorker(this.address)) await this.ctx.node.stopWorker(this.address);
      for (const decryptor of [...this.pending]) {
        decryptor.fail(new SecureChannelError('CLOSED', 'the listener stopped'), true);
      }
    })();
    return this.stopping;
  }

  /** @internal The listener worker's handler: one HELLO, one responder. */
  async accept(message: Routed): Promise<void> {
    const frame = message.body;
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
    const refusal = this.check(protocolName);
    if (refusal !== undefined) return this.refuse(refusal, message.returnRoute);

    let handshake: Handshake;
    try {
      handshake = await Handshake.create(false, protocolName, {
        local: this.local,
        trustPolicy: this.options.trustPolicy,
        parameters: { maxMessageSize: this.limits.maxMessageSize, rekeyInterval: this.limits.rekeyInterval },
      });
    } catch (error) {
      return this.refuse(error as SecureChannelError, message.returnRoute);
    }
    const address = Address.unique('sc.r.');
    const finished = (): void => {
      clearTimeout(timer);
      this.pending.delete(decryptor);
    };
    const decryptor: Decryptor = new Decryptor(
      address,
      handshake,
      this.limits,
      {
        onOpen: (channel) => {
          finished();
          this.stats.channelsOpened++;
          this.open.add(channel);
          this.admit(channel);
          void channel.closed().then(() => {
            this.open.delete(channel);
            this.release(channel);
            this.emit('channelClosed', channel);
          });
          this.emit('channelOpened', channel);
        },
        onFail: (error) => {
          finished();
          this.failed(error);
        },
      },
      this.logger.child({ responder: address.key }),
    );
    this.pending.add(decryptor);
    this.stats.handshakesStarted++;
    const timer = setTimeout(() => {
      this.stats.timedOut++;
      decryptor.fail(
        new SecureChannelError('TIMEOUT', `handshake not complete within ${this.handshakeTimeout} ms`),
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
    await this.ctx.node.deliver(message.message.withRoutes(Route.of([address]), message.returnRoute));
  }

  /** Counts a new channel against its peer's identity; closes that peer's oldest channel if over the cap. */
  private admit(channel: SecureChannel): void {
    const identifier = channel.remoteIdentifier;
    if (identifier === undefined) return;
    let channels = this.byIdentity.get(identifier);
    if (channels === undefined) this.byIdentity.set(identifier, (channels = new Set()));
    channels.add(channel);
    while (channels.size > this.maxPerIdentity) {
      const oldest = channels.values().next().value!;
      channels.delete(oldest);
      this.stats.evicted++;
      this.warnings.warn(
        { listener: this.address.key, remote: identifier, max: this.maxPerIdentity },
        'closed the oldest channel of a peer over maxChannelsPerIdentity',
      );
      void oldest.close();
    }
  }

  private release(channel: SecureChannel): void {
    const identifier = channel.remoteIdentifier;
    if (identifier === undefined) return;
    const channels = this.byIdentity.get(identifier);
    if (channels?.delete(channel) === true && channels.size === 0) this.byIdentity.delete(identifier);
  }

  /** Why a HELLO for `protocolName` is refused before any work, if it is. */
  private check(protocolName: string): SecureChannelError | undefined {
    if (this.accepted !== undefined) {
      if (!this.accepted.has(protocolName)) {
        return new SecureChannelError(
          'UNSUPPORTED_PROTOCOL',
          `this listener does not accept ${protocolName}`,
        );
      }
    } else {
      let pattern;
      try {
        pattern = channelPattern(protocolName);
      } catch (error) {
        return error as SecureChannelError;
      }
      if (pattern === 'NK' && this.options.trustPolicy !== TrustEveryone) {
        return new SecureChannelError(
          'UNTRUSTED',
          `NK initiators are anonymous; trust policy ${this.options.trustPolicy.name} needs an identity`,
        );
      }
    }
    if (this.pending.size >= this.maxPending) {
      return new SecureChannelError(
        'TOO_MANY_HANDSHAKES',
        `${this.pending.size} handshakes in progress (maxPendingHandshakes)`,
      );
    }
    return undefined;
  }

  private refuse(error: SecureChannelError, returnRoute: Route): void {
    if (error.code === 'TOO_MANY_HANDSHAKES') this.stats.refusedBusy++;
    if (error.code === 'UNSUPPORTED_PROTOCOL') this.stats.refusedProtocol++;
    const frame = encodeRefused(refusalFor(error));
    this.ctx.node
      .deliver(new LocalMessage(returnRoute, Route.of([this.address]), frame))
      ?.catch((err: unknown) => this.logger.debug({ err }, 'could not send a refusal'));
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

/** The worker at a listener's address. */
class ListenerWorker implements Worker {
  constructor(private readonly listener: SecureChannelListener) {}

  handleMessage(_ctx: Context, message: Routed): Promise<void> {
    return this.listener.accept(message);
  }
}

/**
 * Starts a secure channel listener for `identity` at `address`. Initiators reach it by any route ending at
 * that address; each accepted channel is announced as `channelOpened`. Throws `INVALID_OPTIONS` (an NK
 * protocol without `TrustEveryone`, a bad limit) or `UNSUPPORTED_PROTOCOL`.
 */
export async function createSecureChannelListener(
  ctx: Context,
  identity: Identity,
  address: string | Address,
  options: SecureChannelListenerOptions,
): Promise<SecureChannelListener> {
  const limits = resolveLimits(options);
  warnOfTrustEveryone(ctx.node, options.trustPolicy, 'listener');
  const maxPending = integer(
    options.maxPendingHandshakes,
    SECURE_CHANNEL_DEFAULTS.maxPendingHandshakes,
    1,
    1 << 20,
    'maxPendingHandshakes',
  );
  const handshakeTimeout = integer(
    options.handshakeTimeout,
    SECURE_CHANNEL_DEFAULTS.handshakeTimeout,
    1,
    2 ** 31 - 1,
    'handshakeTimeout',
  );
  const maxPerIdentity = integer(
    options.maxChannelsPerIdentity,
    SECURE_CHANNEL_DEFAULTS.maxChannelsPerIdentity,
    1,
    2 ** 31 - 1,
    'maxChannelsPerIdentity',
  );
  const at = typeof address === 'string' ? Address.local(address) : address;
  const local = await localStaticKey(identity, options.staticKeyId);
  const logger = ctx.node.logger.child({ component: 'secure-channel-listener', listener: at.key });
  const listener = new SecureChannelListener(
    ctx,
    at,
    local,
    options,
    limits,
    maxPending,
    handshakeTimeout,
    logger,
    maxPerIdentity,
  );
  await ctx.startWorker(at, new ListenerWorker(listener), { acceptsTransportMessages: true });
  return listener;
}
