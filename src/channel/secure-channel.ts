import { inspect } from 'node:util';
import { EventEmitter } from 'eventemitter3';
import type { Address } from '../core/address';
import { DeliveryFailureNotice, type DeliveryFailureCode } from '../core/delivery-failure';
import { LocalMessage, MessageOrigin, ORIGIN_INFO, originOf, type LocalInfo } from '../core/message';
import { Route, route, type Addressable, type RoutePart } from '../core/route';
import type { PeerIdentity } from '../identity';
import { TAG_LENGTH } from '../noise';
import { untilQueued, type Context, type Destination } from '../node/context';
import type { ByteBudget } from '../node/byte-budget';
import type { Logger } from '../node/logger';
import type { NodeRuntime } from '../node/node-runtime';
import { ReplyAddress } from '../node/router';
import { SECURE_CHANNEL_INFO, type SecureChannelInfo } from './access';
import {
  allocate,
  decodeEnvelope,
  prepareEnvelope,
  scratch,
  withBytes,
  writeEnvelope,
  type Envelope,
} from './envelope';
import { ReceiveKeys, SendKeys } from './epoch-keys';
import { secureChannelMemory } from './channel-memory';
import { SecureChannelError, type SecureChannelErrorCode } from './errors';
import {
  CHUNK_HEADER_LENGTH,
  CHUNK_PIECE_LENGTH,
  DATA_HEADER_LENGTH,
  FrameType,
  MAX_SINGLE_FRAME_MESSAGE,
  MIN_DATA_FRAME,
  PayloadKind,
  readU32,
  readU64,
  writeU32,
  writeU64,
} from './frames';
import type { HandshakeOutcome } from './handshake';
import type { ChannelLimits } from './options';
import { Reassembly } from './reassembly';
import { ReorderBuffer, type NonceGap } from './reorder-buffer';
import { ReplayWindow } from './replay-window';
import { ThrottledLog } from './throttled-log';

/**
 * Why a channel closed: `local` (close() here), `remote` (the peer's authenticated Close), `stopped` (one of
 * its workers or its node stopped), `failed` (the handshake failed before it opened, or the route to the
 * peer is gone), `unresponsive` (nothing authenticated came from the peer for `peerTimeout`), `idle` (no
 * message either way for `idleTimeout`). `closeError` says the same as a typed error.
 */
export type CloseReason = 'local' | 'remote' | 'stopped' | 'failed' | 'unresponsive' | 'idle';

/** Frames a channel end dropped, by reason. None of them was delivered. */
export interface DroppedFrames {
  /** Did not authenticate (tampered, forged, or under a wrong key). */
  decryptFailed: number;
  /** A nonce already received: a replay or a duplicate. */
  replayed: number;
  /**
   * A nonce below the replay window, of an epoch whose key is gone, or of a frame that arrived after the
   * gap it belonged to was reported.
   */
  tooOld: number;
  /** Not a well-formed frame, or an authenticated payload that does not parse. */
  malformed: number;
  /** A message over this end's maximum message size. */
  tooLarge: number;
  /** Partial chunked messages given up to make room (`maxPartialMessages`, `maxReassemblyBytes`, node memory). */
  evicted: number;
}

/** Frames the peer sent that never arrived: what `gap` events reported. */
export interface MissingFrames {
  /** Gaps reported. */
  gaps: number;
  /** Frames in them. */
  frames: number;
}

/** Counters of one channel end. */
export interface SecureChannelStats {
  framesSent: number;
  framesReceived: number;
  messagesSent: number;
  messagesReceived: number;
  /** PINGs sent because the peer had been silent (liveness). */
  pingsSent: number;
  /** Plain delivery failure notices about this end's frames, from a hop on the route (unauthenticated). */
  routeNotices: number;
  readonly dropped: DroppedFrames;
  /** Frames the peer sent that never arrived (each gap is also logged and emitted as `gap`). */
  readonly missing: MissingFrames;
  /** Frames that arrived ahead of a missing one and were held to keep sending order. */
  framesReordered: number;
}

/** Events a `SecureChannel` emits. */
export interface SecureChannelEvents {
  /** The channel closed (once). */
  closed: [CloseReason];
  /** A received frame was dropped; the error's code says why (also counted in `stats.dropped`). */
  frameDropped: [SecureChannelError];
  /**
   * Frames `from`..`to` (nonces, both included) never arrived within `reorderTimeout` (or the replay window,
   * or the bytes that may be held): whatever they carried is lost, and delivery went on after them.
   */
  gap: [NonceGap];
}

/** @internal What a channel end is made of, once its handshake completed. */
export interface ChannelInit {
  /** The decryptor's context: frames and decrypted messages are sent from it. */
  readonly ctx: Context;
  readonly decryptorAddress: Address;
  readonly encryptorAddress: Address;
  /** The route to the peer's decryptor. */
  readonly peerRoute: Route;
  readonly outcome: HandshakeOutcome;
  readonly limits: ChannelLimits;
  readonly initiator: boolean;
  readonly logger: Logger;
}

const dropCounter: Partial<Record<SecureChannelErrorCode, keyof DroppedFrames>> = {
  DECRYPT_FAILED: 'decryptFailed',
  REPLAYED: 'replayed',
  TOO_OLD: 'tooOld',
  MALFORMED: 'malformed',
  TOO_LARGE: 'tooLarge',
};

function noop(): void {}

/**
 * The open channel ends of a node: so that a node that stops can send CLOSE on every one of them before its
 * workers (and transports) stop, and the peers notice at once instead of at their `peerTimeout`; and, by the
 * first hop of their route to the peer (a connection), so that the ends over a connection that closed close
 * at once (`CONNECTION_LOST`): a channel's route is fixed at its handshake, and a new connection has a new
 * address, so nothing would ever reach the peer again.
 */
class OpenChannels {
  readonly all = new Set<SecureChannel>();
  private readonly byFirstHop = new Map<string, Set<SecureChannel>>();
  /** Channel ends with liveness checks, and the one timer that runs them all (none per channel). */
  private readonly watched = new Set<SecureChannel>();
  private sweeper: NodeJS.Timeout | undefined;
  private sweepPeriod = Infinity;
  private lastSweep = 0;

  constructor(node: NodeRuntime) {
    node.once('stopping', () => {
      for (const each of this.all) each.nodeStopping();
    });
    node.on('workerStopped', (address) => {
      const over = this.byFirstHop.get(address.key);
      if (over === undefined) return;
      for (const each of [...over]) each.firstHopStopped();
    });
  }

  /** Runs `channel.check` about every `period` ms until it is deleted. */
  watch(channel: SecureChannel, period: number): void {
    this.watched.add(channel);
    if (period >= this.sweepPeriod) return;
    clearInterval(this.sweeper);
    this.sweepPeriod = period;
    this.lastSweep = performance.now();
    this.sweeper = setInterval(this.sweep, period);
    this.sweeper.unref();
  }

  private readonly sweep = (): void => {
    const now = performance.now();
    // Our own event loop stalled (a long GC, a busy process) when a sweep comes more than a period late:
    // the peers' frames may be waiting unread, so that time does not count against them. Judged here, per
    // sweep, not per channel tick: a tick may fall one sweep later than due, and that is no stall.
    const stalled = now - this.lastSweep > 2 * this.sweepPeriod;
    this.lastSweep = now;
    for (const channel of this.watched) channel.check(now, stalled);
  };

  add(channel: SecureChannel, firstHop: string | undefined): void {
    this.all.add(channel);
    if (firstHop === undefined) return;
    let over = this.byFirstHop.get(firstHop);
    if (over === undefined) this.byFirstHop.set(firstHop, (over = new Set()));
    over.add(channel);
  }

  delete(channel: SecureChannel, firstHop: string | undefined): void {
    this.all.delete(channel);
    if (this.watched.delete(channel) && this.watched.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
      this.sweepPeriod = Infinity;
    }
    if (firstHop === undefined) return;
    const over = this.byFirstHop.get(firstHop);
    if (over?.delete(channel) === true && over.size === 0) this.byFirstHop.delete(firstHop);
  }
}

const openOnNode = new WeakMap<NodeRuntime, OpenChannels>();

function openChannelsOf(node: NodeRuntime): OpenChannels {
  let open = openOnNode.get(node);
  if (open === undefined) openOnNode.set(node, (open = new OpenChannels(node)));
  return open;
}

/** How many untracked reply slots a channel end holds before it drops those already answered. */
const PRUNE_PENDING_AT = 64;

/**
 * One end of an open secure channel. Its `address` is the local encryptor: a message sent to
 * `route(channel, ...rest)` is encrypted together with `rest` and its return route, carried to the peer's
 * decryptor over whatever route the handshake ran on, decrypted there and forwarded to `rest` with the
 * return route `[peer's encryptor, ...return route]`, so replies come back encrypted too. Every message
 * delivered from a channel carries `localInfo.secureChannel` (see `remoteIdentifierOf`).
 *
 * Dropped frames (tampered, replayed, too old, malformed) are never delivered; they are counted in
 * `stats.dropped`, logged (throttled) and emitted as `frameDropped`, not recorded as dead letters: they are
 * not messages of this node.
 */
export class SecureChannel extends EventEmitter<SecureChannelEvents> implements Addressable {
  /** The encryptor: the first hop of routes through this channel. */
  readonly address: Address;
  /** The decryptor: where the peer's frames arrive. */
  readonly decryptorAddress: Address;
  /** The peer's authenticated identifier; undefined for an anonymous NK initiator. */
  readonly remoteIdentifier: string | undefined;
  /** The peer's identity (identifier and Ed25519 public key); undefined when anonymous. */
  readonly remoteIdentity: PeerIdentity | undefined;
  /** The peer's Noise static public key; undefined for an anonymous NK initiator. */
  readonly remoteStaticKey: Uint8Array | undefined;
  /** The Noise protocol the handshake ran. */
  readonly protocolName: string;
  /** Whether this end initiated the channel. */
  readonly isInitiator: boolean;
  /** The Noise handshake hash, identical at both ends: usable for channel binding. */
  readonly handshakeHash: Uint8Array;
  /** Largest message this end sends: the smaller of its own and the peer's announced maximum. */
  readonly maxMessageSize: number;
  readonly stats: SecureChannelStats;

  private readonly ctx: Context;
  private readonly peerRoute: Route;
  private readonly replyRoute: Route;
  /** What this end's decrypted messages carry: the channel, and the path its frames came by (see `via`). */
  private localInfo: LocalInfo;
  private readonly info: SecureChannelInfo;
  /** The local info of the frame being received, and the one `localInfo` was worked out for. */
  private via: LocalInfo | undefined;
  private localInfoVia: LocalInfo | undefined;
  private readonly sendKeys: SendKeys;
  private readonly receiveKeys: ReceiveKeys;
  private readonly window: ReplayWindow;
  private readonly reassembly: Reassembly;
  private readonly order = new ReorderBuffer();
  private orderTimer: NodeJS.Timeout | undefined;
  private readonly memory: ByteBudget;
  private readonly receiveLimit: number;
  private readonly limits: ChannelLimits;
  private readonly logger: Logger;
  private readonly dropLog: ThrottledLog;
  private nextMessageId = 0;
  private reason: CloseReason | undefined;
  private error: SecureChannelError | undefined;
  /** What the dead letter said when the route to the peer was found gone. */
  private lostCode: DeliveryFailureCode | undefined;
  /** Reply slots of requests sent through this end: they fail at once when it closes. */
  private pendingReplies: Set<ReplyAddress> | undefined; // made at the first request: most ends carry none
  private prunePendingAt = PRUNE_PENDING_AT;
  private readonly openSet: OpenChannels;
  // Liveness (one timer per channel end; frames are counted, never timed, on the hot path).
  private readonly tickPeriod: number;
  private nextCheck = 0;
  /** Whether the node's event loop stalled since this end's last tick (see `OpenChannels.sweep`). */
  private loopStalled = false;
  private heardCount = 0;
  private heardAt = 0;
  private activeCount = 0;
  private activeAt = 0;
  private suspectAt: number | undefined;
  private suspectCode: DeliveryFailureCode | undefined;
  private stopped: Promise<void> = Promise.resolve();
  private lingerTimer: NodeJS.Timeout | undefined;
  private readonly closedPromise: Promise<CloseReason>;
  private resolveClosed!: (reason: CloseReason) => void;

  /** @internal Made by the decryptor when its handshake completes. */
  constructor(init: ChannelInit) {
    super();
    const { outcome, limits } = init;
    this.ctx = init.ctx;
    this.address = init.encryptorAddress;
    this.decryptorAddress = init.decryptorAddress;
    this.peerRoute = init.peerRoute;
    this.replyRoute = Route.of([init.decryptorAddress]);
    this.remoteIdentity = outcome.remote;
    this.remoteIdentifier = outcome.remote?.identifier;
    this.remoteStaticKey = outcome.remoteStaticKey;
    this.protocolName = outcome.protocolName;
    this.isInitiator = init.initiator;
    this.handshakeHash = outcome.handshakeHash;
    this.limits = limits;
    this.maxMessageSize = Math.min(limits.maxMessageSize, outcome.peer.maxMessageSize);
    this.receiveLimit = limits.maxMessageSize;
    // Our sending key rekeys on our schedule; the receiving key on the schedule the peer announced.
    this.sendKeys = new SendKeys(outcome.ciphers.send, limits.rekeyInterval);
    this.receiveKeys = new ReceiveKeys(outcome.ciphers.receive, outcome.peer.rekeyInterval);
    this.window = new ReplayWindow(limits.replayWindow);
    this.memory = secureChannelMemory(init.ctx.node);
    this.reassembly = new Reassembly(
      limits.maxMessageSize,
      limits.maxPartialMessages,
      limits.maxReassemblyBytes,
      this.memory,
      () => {
        this.stats.dropped.evicted++;
        this.dropLog.warn(
          { channel: this.address.key },
          'gave up a partial message to make room for a new one',
        );
      },
    );
    this.info = Object.freeze({
      identifier: this.remoteIdentifier,
      identity: this.remoteIdentity,
      channel: this.address,
    });
    this.localInfo = this.infoVia(undefined);
    this.logger = init.logger;
    this.dropLog = new ThrottledLog(init.logger);
    this.stats = {
      framesSent: 0,
      framesReceived: 0,
      messagesSent: 0,
      messagesReceived: 0,
      pingsSent: 0,
      routeNotices: 0,
      dropped: { decryptFailed: 0, replayed: 0, tooOld: 0, malformed: 0, tooLarge: 0, evicted: 0 },
      missing: { gaps: 0, frames: 0 },
      framesReordered: 0,
    };
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    this.openSet = openChannelsOf(this.ctx.node);
    this.openSet.add(this, this.firstHop());
    const { keepaliveInterval, peerTimeout, idleTimeout } = limits;
    const periods = [keepaliveInterval, Math.ceil(peerTimeout / 4), idleTimeout].filter((ms) => ms > 0);
    this.tickPeriod = keepaliveInterval > 0 || idleTimeout > 0 ? Math.max(10, Math.min(...periods)) : 0;
    if (this.tickPeriod > 0) {
      this.heardAt = this.activeAt = performance.now();
      this.nextCheck = this.heardAt + this.tickPeriod;
      // The node's sweep runs at the shortest period among its channels; each end checks on its own period.
      this.openSet.watch(this, Math.max(10, Math.min(this.tickPeriod, 1_000)));
    }
  }

  /** Whether the channel has closed. */
  get isClosed(): boolean {
    return this.reason !== undefined;
  }

  /** Why the channel closed, once it has. */
  get closeReason(): CloseReason | undefined {
    return this.reason;
  }

  /**
   * Why the channel closed, as a typed error: `PEER_UNRESPONSIVE` (reason `unresponsive`), the delivery
   * failure code of the dead letter that showed its route gone (`NO_ROUTE`, `CONNECTION_LOST`...), or
   * `CLOSED` with the reason in the message. Undefined while open.
   */
  get closeError(): SecureChannelError | undefined {
    return this.error;
  }

  /** Resolves with the reason once the channel closes (never rejects; see `closeError` for the details). */
  closed(): Promise<CloseReason> {
    return this.closedPromise;
  }

  /**
   * What `JSON.stringify` and loggers show: addresses, the peer's identifier, the protocol and the state;
   * never a key (the transport keys, the handshake's secrets, the node behind `ctx`).
   */
  toJSON(): Record<string, unknown> {
    return {
      address: this.address.toString(),
      decryptor: this.decryptorAddress.toString(),
      remoteIdentifier: this.remoteIdentifier,
      protocolName: this.protocolName,
      isInitiator: this.isInitiator,
      closed: this.reason ?? false,
    };
  }

  /** What `console.log` and `util.inspect` show: the same public facts. */
  [inspect.custom](): string {
    return `SecureChannel ${JSON.stringify(this.toJSON())}`;
  }

  /**
   * Sends `body` through the channel to `to` (the route beyond the channel, as `ctx.send` takes it:
   * `channel.send(ctx, 'echoer', 'hi')`), with `from`'s address as return route. Unlike a plain `ctx.send(route(channel, ...))`, whose
   * failures can only become dead letters, this rejects: `TOO_LARGE` for a message over `maxMessageSize`
   * (nothing is sent), `CLOSED` once the channel closed. Resolves once the frames are queued at the next hop.
   */
  send(from: Addressable, to: Destination, body: unknown): Promise<void> {
    try {
      const onward = Array.isArray(to) ? route(...(to as readonly RoutePart[])) : route(to as RoutePart);
      return this.transmit(onward, Route.of([from.address]), body) ?? Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Closes the channel at both ends: an authenticated Close goes to the peer, then this end's workers stop.
   * Later sends to the encryptor become dead letters (`undeliverable`, "secure channel ... is closed") for a
   * while, then `no-route`. Idempotent.
   */
  async close(): Promise<void> {
    if (this.reason === undefined) {
      const sent = this.sendClose();
      this.teardown('local');
      await sent;
    }
    await this.stopped;
  }

  /**
   * @internal Sends the authenticated CLOSE frame (best effort: if it cannot go, the peer learns of the close
   * when its own sends go nowhere). Resolves once it is queued at the next hop; never rejects.
   */
  sendClose(): Promise<void> {
    if (this.reason !== undefined) return Promise.resolve();
    try {
      return this.sendFrame(Uint8Array.of(PayloadKind.CLOSE))?.catch(noop) ?? Promise.resolve();
    } catch {
      return Promise.resolve();
    }
  }

  /**
   * @internal Encrypts a message into one frame, or into chunks when it is larger than one Noise message,
   * and hands them to the next hop. Throws `CLOSED` or `TOO_LARGE` before anything is sent. Returns a
   * promise only while the next hop applies backpressure.
   */
  transmit(onwardRoute: Route, returnRoute: Route, body: unknown): Promise<void> | undefined {
    if (this.reason !== undefined) {
      throw new SecureChannelError('CLOSED', `secure channel ${this.address.key} is closed (${this.reason})`);
    }
    const envelope = prepareEnvelope(onwardRoute, returnRoute, body, this.maxMessageSize);
    this.stats.messagesSent++;
    const slot = returnRoute.recipient;
    if (slot instanceof ReplyAddress) this.trackRequest(slot);
    if (envelope.length <= MAX_SINGLE_FRAME_MESSAGE) {
      scratch[0] = PayloadKind.MESSAGE;
      writeEnvelope(envelope, 0, envelope.length, scratch, 1);
      return this.sendFrame(scratch.subarray(0, 1 + envelope.length));
    }
    const id = this.nextMessageId;
    this.nextMessageId = (id + 1) >>> 0;
    return this.sendPieces(withBytes(envelope), id, 0);
  }

  /**
   * Sends pieces `from..` of a chunked message, each built in the shared plaintext buffer just before it is
   * encrypted (so a message never exists as one more whole copy), waiting out backpressure between pieces.
   */
  private sendPieces(envelope: Envelope, id: number, from: number): Promise<void> | undefined {
    if (this.reason !== undefined) {
      throw new SecureChannelError('CLOSED', `secure channel ${this.address.key} closed during a send`);
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
      writeEnvelope(envelope, offset, size, scratch, CHUNK_HEADER_LENGTH);
      const pending = this.sendFrame(scratch.subarray(0, CHUNK_HEADER_LENGTH + size));
      // Under backpressure, wait before encrypting the next piece: frames in flight stay bounded.
      if (pending !== undefined) {
        return index + 1 < pieces ? pending.then(() => this.sendPieces(envelope, id, index + 1)) : pending;
      }
    }
    return undefined;
  }

  /** Remembers a request's reply slot, so that it fails at once should the channel close before the reply. */
  private trackRequest(slot: ReplyAddress): void {
    const pending = (this.pendingReplies ??= new Set());
    pending.add(slot);
    if (pending.size < this.prunePendingAt) return;
    for (const each of pending) if (each.target === undefined) pending.delete(each);
    this.prunePendingAt = Math.max(PRUNE_PENDING_AT, 2 * pending.size);
  }

  /** Fails every request still waiting for a reply through this end (it just closed). */
  private failPending(code: DeliveryFailureCode, error: SecureChannelError): void {
    if (this.pendingReplies === undefined) return;
    const notice = new DeliveryFailureNotice(code, error);
    for (const slot of this.pendingReplies) {
      const target = slot.target;
      if (target !== undefined)
        void target.deliver(new LocalMessage(this.replyRoute, this.replyRoute, notice));
    }
    this.pendingReplies.clear();
  }

  /**
   * One liveness check: PING a silent peer, close an end whose peer stayed silent past `peerTimeout` (or,
   * after a route notice, past one `keepaliveInterval`), or one idle past `idleTimeout`.
   */
  /** @internal The node's sweep: runs `tick` when this end's period has come. */
  check(now: number, stalled: boolean): void {
    if (stalled) this.loopStalled = true;
    if (now >= this.nextCheck) {
      this.nextCheck = now + this.tickPeriod;
      this.tick(now);
    }
  }

  private tick(now: number): void {
    if (this.reason !== undefined) return;
    const stalled = this.loopStalled;
    this.loopStalled = false;
    const { keepaliveInterval, peerTimeout, idleTimeout } = this.limits;
    const received = this.stats.framesReceived;
    // Our own event loop stalled: the peer's frames may be waiting unread, so this period does not count.
    if (received !== this.heardCount || stalled) {
      this.heardCount = received;
      this.heardAt = now;
      this.suspectAt = undefined;
    }
    if (keepaliveInterval > 0) {
      const silent = now - this.heardAt;
      const suspect = this.suspectAt !== undefined && now - this.suspectAt >= keepaliveInterval;
      if (silent >= peerTimeout || suspect) {
        this.closeUnresponsive(Math.round(silent));
        return;
      }
      if (silent >= keepaliveInterval) this.ping();
    }
    if (idleTimeout > 0) {
      const messages = this.stats.messagesSent + this.stats.messagesReceived;
      if (messages !== this.activeCount) {
        this.activeCount = messages;
        this.activeAt = now;
      } else if (now - this.activeAt >= idleTimeout) {
        void this.sendClose();
        this.teardown('idle');
      }
    }
  }

  private ping(): void {
    this.stats.pingsSent++;
    void this.sendFrame(Uint8Array.of(PayloadKind.PING))?.catch(noop);
  }

  private closeUnresponsive(silentMs: number): void {
    this.logger.warn(
      {
        channel: this.address.key,
        remote: this.remoteIdentifier,
        silentMs,
        routeNotice: this.suspectCode,
      },
      'secure channel closed: the peer stopped answering',
    );
    void this.sendClose(); // should the partition heal, the peer learns at once
    this.teardown('unresponsive');
  }

  /**
   * @internal A hop on the route sent a plain (unauthenticated) delivery failure notice about one of this
   * end's frames. It cannot close the channel by itself; it makes this end PING at once, and close
   * `unresponsive` if nothing authenticated comes back within `keepaliveInterval`.
   */
  routeNotice(notice: DeliveryFailureNotice): undefined {
    this.stats.routeNotices++;
    if (this.reason !== undefined || this.limits.keepaliveInterval === 0 || this.suspectAt !== undefined) {
      return undefined;
    }
    this.logger.debug(
      { channel: this.address.key, code: notice.code },
      'a hop reported a frame of this channel undelivered; probing the peer',
    );
    this.suspectAt = performance.now();
    this.suspectCode = notice.code;
    this.heardCount = this.stats.framesReceived;
    this.ping();
    return undefined;
  }

  /** @internal Sends the ACCEPTED frame that opens the channel at the peer (nonce 0). */
  sendAccepted(): void {
    void this.sendFrame(Uint8Array.of(PayloadKind.ACCEPTED))?.catch(noop);
  }

  /** Encrypts one plaintext as `DATA nonce:u64 ciphertext` and sends it to the peer's decryptor. */
  private sendFrame(plaintext: Uint8Array): Promise<void> | undefined {
    if (this.reason !== undefined) return undefined; // the route was lost mid-message: keys are gone
    // Encrypted straight into the frame, after its header: no ciphertext array of its own to copy.
    const frame = allocate(DATA_HEADER_LENGTH + plaintext.length + TAG_LENGTH);
    const nonce = this.sendKeys.encryptInto(plaintext, frame, DATA_HEADER_LENGTH);
    frame[0] = FrameType.DATA;
    writeU64(frame, 1, nonce);
    this.stats.framesSent++;
    const sent = this.ctx.deliver(new LocalMessage(this.peerRoute, this.replyRoute, frame));
    // Refused on the spot: the first hop toward the peer (a connection, a relay client) is gone, and a
    // channel's route is fixed at its handshake, so nothing will ever reach the peer again. Close rather
    // than keep a dead channel that swallows every later message.
    if (sent.status === 'refused') this.routeLost(sent.letter.code);
    return untilQueued(sent);
  }

  /**
   * The key of the hop between this end and the peer (a connection, a relay) whose stop ends the route, or
   * undefined when the route is the peer's decryptor alone (a peer on this node: its own CLOSE will come).
   */
  private firstHop(): string | undefined {
    return this.peerRoute.length > 1 ? this.peerRoute.next!.key : undefined;
  }

  /** @internal The first hop of the route to the peer (a connection's worker) stopped. */
  firstHopStopped(): void {
    if (!this.ctx.isNodeStopped) this.routeLost('CONNECTION_LOST');
  }

  /**
   * @internal This end's node is about to stop: CLOSE goes to the peer, unless the peer's decryptor is on
   * this very node (it stops too, and the CLOSE would only become its dead letter).
   */
  nodeStopping(): void {
    const peer = this.peerRoute.recipient;
    if (peer !== undefined && peer.isLocal && this.ctx.hasWorker(peer)) return;
    void this.sendClose();
  }

  private routeLost(code: DeliveryFailureCode | undefined): void {
    if (this.reason !== undefined) return;
    this.lostCode = code;
    this.logger.warn(
      { channel: this.address.key, remote: this.remoteIdentifier, route: this.peerRoute.toString(), code },
      'secure channel closed: its route to the peer is gone',
    );
    this.teardown('failed');
  }

  /**
   * @internal Handles one DATA frame from the peer: replay check, decryption under the key of the frame's
   * epoch, then, in sending order, delivery, reassembly or close. A frame ahead of a missing one is held
   * (see `holdEarly`). Returns a promise only under backpressure.
   */
  receiveFrame(frame: Uint8Array, via?: LocalInfo): Promise<void> | undefined {
    if (this.reason !== undefined) return undefined;
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
    this.stats.framesReceived++;
    // The hot path: the frame the sender sent next. Anything else waits for the frames before it.
    if (nonce !== this.order.next) return this.holdEarly(nonce, plaintext);
    this.order.next++;
    const pending = this.process(plaintext);
    return this.order.size === 0 ? pending : (this.release() ?? pending);
  }

  /** Acts on one authenticated plaintext, in sending order. */
  private process(plaintext: Uint8Array): Promise<void> | undefined {
    switch (plaintext[0]) {
      case PayloadKind.MESSAGE:
        return this.deliver(plaintext.subarray(1));
      case PayloadKind.CHUNK:
        return this.receivePiece(plaintext);
      case PayloadKind.ACCEPTED:
        return plaintext.length === 1 ? undefined : this.drop('MALFORMED', 'a malformed accept');
      case PayloadKind.CLOSE:
        this.teardown('remote');
        return undefined;
      case PayloadKind.PING:
        if (plaintext.length !== 1) return this.drop('MALFORMED', 'a malformed ping');
        void this.sendFrame(Uint8Array.of(PayloadKind.PONG))?.catch(noop);
        return undefined;
      case PayloadKind.PONG:
        return plaintext.length === 1 ? undefined : this.drop('MALFORMED', 'a malformed pong');
      default:
        return this.drop('MALFORMED', 'an unknown payload kind');
    }
  }

  /**
   * Holds a frame that arrived ahead of a missing one. The gap is given up, reported and delivery goes on
   * after `reorderTimeout`, or at once when holding would exceed `maxReorderBytes` or the node's channel
   * memory, or when the missing frame falls behind the replay window (it could not be accepted any more).
   */
  private holdEarly(nonce: number, plaintext: Uint8Array): Promise<void> | undefined {
    this.stats.framesReordered++;
    const now = Date.now();
    this.order.hold(nonce, plaintext, now);
    this.memory.charge(plaintext.length);
    let pending: Promise<void> | undefined;
    while (
      this.order.size > 0 &&
      (this.order.bytes > this.limits.maxReorderBytes ||
        this.memory.used > this.memory.limit ||
        nonce - this.order.next >= this.limits.replayWindow)
    ) {
      pending = this.skipGap() ?? pending;
    }
    if (this.order.size > 0 && this.orderTimer === undefined && this.reason === undefined) {
      this.armReorderTimer(this.order.earliestArrival ?? now);
    }
    return pending;
  }

  /**
   * A held frame waited `reorderTimeout`: the gaps before it are given up. Each gap waits at most that long
   * (from when the first frame after it arrived), never longer; then the timer follows the next one.
   */
  private readonly reorderTimedOut = (): void => {
    this.orderTimer = undefined;
    const due = Date.now() - this.limits.reorderTimeout;
    let earliest: number | undefined;
    while (
      this.reason === undefined &&
      (earliest = this.order.earliestArrival) !== undefined &&
      earliest <= due
    ) {
      // Not in the decryptor's handler: a delivery that has to wait for room completes on its own.
      this.skipGap()?.catch(noop);
    }
    if (this.reason === undefined && earliest !== undefined) this.armReorderTimer(earliest);
  };

  private armReorderTimer(earliest: number): void {
    const wait = Math.max(1, earliest + this.limits.reorderTimeout - Date.now());
    this.orderTimer = setTimeout(this.reorderTimedOut, wait);
    this.orderTimer.unref();
  }

  /** Gives up the frames missing before the first held one: reported, then the held ones that follow go. */
  private skipGap(): Promise<void> | undefined {
    const gap = this.order.skipGap();
    if (gap === undefined) return undefined;
    const count = gap.to - gap.from + 1;
    this.stats.missing.gaps++;
    this.stats.missing.frames += count;
    this.dropLog.warn(
      { channel: this.address.key, remote: this.remoteIdentifier, from: gap.from, to: gap.to },
      `secure channel lost ${count} frame(s) from the peer (nonces ${gap.from}..${gap.to}): never arrived`,
    );
    this.emit('gap', gap);
    return this.release();
  }

  /** Delivers the held frames that are now in order. */
  private release(): Promise<void> | undefined {
    let pending: Promise<void> | undefined;
    let plaintext: Uint8Array | undefined;
    while (this.reason === undefined && (plaintext = this.order.take()) !== undefined) {
      this.memory.release(plaintext.length);
      pending = this.process(plaintext) ?? pending;
    }
    if (this.order.size === 0 && this.orderTimer !== undefined) {
      clearTimeout(this.orderTimer);
      this.orderTimer = undefined;
    }
    return pending;
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
    if (bytes.length > this.receiveLimit) return this.drop('TOO_LARGE', 'a message over the maximum size');
    let message: ReturnType<typeof decodeEnvelope>;
    try {
      message = decodeEnvelope(bytes);
    } catch {
      return this.drop('MALFORMED', 'an authenticated message that does not decode');
    }
    this.stats.messagesReceived++;
    // Frames come by one connection for a channel's whole life as a rule: the info is worked out again only
    // when the path they came by changes, so this costs one comparison per message.
    if (this.via !== this.localInfoVia) {
      this.localInfoVia = this.via;
      this.localInfo = this.infoVia(this.via);
    }
    // No transport flag: what comes out of a channel is authenticated, and says by whom. Its origin is the
    // path the frame came by followed by this channel, so it goes on only where flow controls allow.
    return untilQueued(
      this.ctx.deliver(
        new LocalMessage(
          message.onwardRoute,
          message.returnRoute.prepend(this.address),
          message.body,
          this.localInfo,
        ),
      ),
    );
  }

  /** The local info of messages decrypted from frames that came with local info `via`. */
  private infoVia(via: LocalInfo | undefined): LocalInfo {
    const hop = { kind: 'channel', producer: this.address, info: this.info } as const;
    const before = via === undefined ? undefined : originOf({ localInfo: via });
    return Object.freeze({
      [SECURE_CHANNEL_INFO]: this.info,
      [ORIGIN_INFO]: before === undefined ? MessageOrigin.of(hop) : before.then(hop),
    });
  }

  /** @internal Counts, logs and reports a frame that is not delivered. */
  drop(code: SecureChannelErrorCode, what: string): undefined {
    const counter = dropCounter[code] ?? 'malformed';
    this.stats.dropped[counter]++;
    this.dropLog.warn({ channel: this.address.key, code }, `secure channel dropped ${what}`);
    if (this.listenerCount('frameDropped') > 0) {
      this.emit('frameDropped', new SecureChannelError(code, `dropped ${what}`));
    }
    return undefined;
  }

  /**
   * @internal Closes this end without telling the peer: wipes the keys, stops the decryptor, and keeps the
   * encryptor for `closedLinger` ms so that late sends are dead-lettered with a clear reason. Idempotent.
   */
  teardown(reason: CloseReason): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.openSet.delete(this, this.firstHop());
    const code: DeliveryFailureCode =
      reason === 'unresponsive' ? 'PEER_UNRESPONSIVE' : (this.lostCode ?? 'CHANNEL_CLOSED');
    this.error = new SecureChannelError(
      code === 'CHANNEL_CLOSED' ? 'CLOSED' : code,
      `secure channel ${this.address.key} closed (${reason}${this.lostCode ? `: ${this.lostCode}` : ''})`,
    );
    this.failPending(code, this.error);
    this.sendKeys.destroy();
    this.receiveKeys.destroy();
    this.reassembly.clear();
    clearTimeout(this.orderTimer);
    this.orderTimer = undefined;
    this.memory.release(this.order.bytes);
    this.order.clear();
    // Not awaited: teardown often runs inside the decryptor's own handler, which must finish first.
    const stops = [this.stopWorker(this.decryptorAddress)];
    if (reason === 'local' || reason === 'remote' || reason === 'idle' || reason === 'unresponsive') {
      this.lingerTimer = setTimeout(() => void this.stopWorker(this.address), this.limits.closedLinger);
      this.lingerTimer.unref();
    } else {
      stops.push(this.stopWorker(this.address));
    }
    this.stopped = Promise.all(stops).then(noop);
    this.logger.debug(
      { channel: this.address.key, remote: this.remoteIdentifier, reason },
      'secure channel closed',
    );
    this.emit('closed', reason);
    this.resolveClosed(reason);
  }

  /** @internal The encryptor stopped (linger over, or its node stopped). */
  encryptorStopped(): void {
    clearTimeout(this.lingerTimer);
    this.teardown('stopped');
  }

  private stopWorker(address: Address): Promise<void> {
    if (!this.ctx.hasWorker(address)) return Promise.resolve();
    return this.ctx.stopWorker(address).catch(noop);
  }
}
