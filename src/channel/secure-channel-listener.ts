import { inspect } from 'node:util';
import { EventEmitter } from 'eventemitter3';
import { Address } from '../core/address';
import { LocalMessage, type Routed } from '../core/message';
import { Route } from '../core/route';
import { TrustEveryone, type Identity } from '../identity';
import { untilQueued, type Context } from '../node/context';
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
  /**
   * Handshakes in progress at once. A further HELLO evicts the oldest handshake of the source holding the
   * most (so a flood from one place cannot lock others out). Default 256.
   */
  readonly maxPendingHandshakes?: number;
  /**
   * Handshakes in progress at once from one source: the first two hops of the HELLO's return route (the
   * connection it came in on, and the hop behind it, such as the hub's connection to the client that sent
   * it), or the node itself for a local initiator. A further HELLO from it is refused (`busy`). Default 16.
   */
  readonly maxPendingHandshakesPerSource?: number;
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
  /** Handshakes in progress, oldest first, and by source (each set oldest first too). */
  private readonly pending = new Map<Decryptor, string>();
  private readonly bySource = new Map<string, Set<Decryptor>>();
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
    private readonly maxPendingPerSource: number,
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
      if (this.ctx.hasWorker(this.address)) await this.ctx.stopWorker(this.address);
      for (const decryptor of [...this.pending.keys()]) {
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
    const source = sourceOf(message.returnRoute);
    const refusal = this.check(protocolName, source);
    if (refusal !== undefined) return this.refuse(refusal, message.returnRoute);
    if (this.pending.size >= this.maxPending) this.evict();

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
      this.forget(decryptor);
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
        onRejectedFrame: () => {
          this.stats.rejectedFrames++;
        },
      },
      this.logger.child({ responder: address.key }),
    );
    this.pending.set(decryptor, source);
    let ofSource = this.bySource.get(source);
    if (ofSource === undefined) this.bySource.set(source, (ofSource = new Set()));
    ofSource.add(decryptor);
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

  /** Why a HELLO for `protocolName` from `source` is refused before any work, if it is. */
  private check(protocolName: string, source: string): SecureChannelError | undefined {
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
    const fromSource = this.bySource.get(source)?.size ?? 0;
    if (fromSource >= this.maxPendingPerSource) {
      return new SecureChannelError(
        'TOO_MANY_HANDSHAKES',
        `${fromSource} handshakes in progress from one source (maxPendingHandshakesPerSource)`,
      );
    }
    return undefined;
  }

  /**
   * Makes room for one more handshake: gives up the oldest of the source holding the most (the oldest
   * overall among equals), so whoever floods evicts its own and a newcomer still gets in.
   */
  private evict(): void {
    let victim: Decryptor | undefined;
    let most = 0;
    for (const handshakes of this.bySource.values()) {
      if (handshakes.size > most) {
        most = handshakes.size;
        victim = handshakes.values().next().value;
      }
    }
    if (victim === undefined) return;
    this.stats.handshakesEvicted++;
    victim.fail(
      new SecureChannelError(
        'TOO_MANY_HANDSHAKES',
        `given up for a newer handshake: ${this.pending.size} in progress (maxPendingHandshakes)`,
      ),
      true,
    );
    this.forget(victim); // fail() reports through onFail, which forgets it too; this is in case it had ended
  }

  private forget(decryptor: Decryptor): void {
    const source = this.pending.get(decryptor);
    if (source === undefined) return;
    this.pending.delete(decryptor);
    const handshakes = this.bySource.get(source)!;
    handshakes.delete(decryptor);
    if (handshakes.size === 0) this.bySource.delete(source);
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

/**
 * Who sent a HELLO, as far as this node can tell: the first two hops of its return route without the last
 * (the initiator's own decryptor, fresh for each handshake). The first hop was put there by this node's
 * transport (the connection), the second by the node at its other end (a hub's connection to its client);
 * hops further back are the sender's to choose, so they do not count.
 */
function sourceOf(returnRoute: Route): string {
  const hops = Math.min(2, returnRoute.length - 1);
  if (hops <= 0) return '';
  return hops === 1 ? returnRoute.at(0)!.key : `${returnRoute.at(0)!.key} ${returnRoute.at(1)!.key}`;
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
  const maxPendingPerSource = integer(
    options.maxPendingHandshakesPerSource,
    SECURE_CHANNEL_DEFAULTS.maxPendingHandshakesPerSource,
    1,
    1 << 20,
    'maxPendingHandshakesPerSource',
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
  const logger = ctx.childLogger({ component: 'secure-channel-listener', listener: at.key });
  const listener = new SecureChannelListener(
    ctx,
    at,
    local,
    options,
    limits,
    maxPending,
    maxPendingPerSource,
    handshakeTimeout,
    logger,
    maxPerIdentity,
  );
  await ctx.startWorker(at, new ListenerWorker(listener), { acceptsTransportMessages: true });
  return listener;
}
