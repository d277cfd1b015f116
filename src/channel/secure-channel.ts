import { inspect } from 'node:util';
import { EventEmitter } from 'eventemitter3';
import type { Address } from '../core/address';
import { Route, route, type Addressable, type RoutePart } from '../core/route';
import type { PeerIdentity } from '../identity';
import type { Context, Destination } from '../node/context';
import type { Logger } from '../node/logger';
import { Decryptor } from './decryptor';
import { Encryptor } from './encryptor';
import type { SecureChannelError } from './errors';
import type { HandshakeOutcome } from './handshake';
import { ChannelLifecycle } from './channel-lifecycle';
import type { ChannelCredentialHooks, ChannelCredentials } from './channel-credentials';
import { PayloadKind } from './frames';
import { Liveness } from './liveness';
import type { ChannelLimits } from './options';
import type { NonceGap } from './reorder-buffer';

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
  /** PINGs sent because the peer had been silent (liveness), or to ask whether a congested route drains. */
  pingsSent: number;
  /** Plain delivery failure notices about this end's frames, from a hop on the route (unauthenticated). */
  routeNotices: number;
  /** Times sends were held because a hop reported the peer's queue full (`CONGESTED`), until a PONG. */
  congestionHolds: number;
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
  /**
   * The channel closed for a reason other than this end's own doing (`local`, `stopped`): the peer closed
   * it, went silent or idle, or the route to it is gone. Emitted once, just after `closed`, with `closeError`.
   */
  lost: [SecureChannelError];
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
  /** The route of the decryptor alone: what the encryptor's frames carry as their return route. */
  readonly replyRoute: Route;
  readonly encryptorAddress: Address;
  /** The route to the peer's decryptor. */
  readonly peerRoute: Route;
  readonly outcome: HandshakeOutcome;
  readonly limits: ChannelLimits;
  readonly initiator: boolean;
  readonly logger: Logger;
  /** Whether the channel is reliable (docs/PROTOCOL.md 4.5). */
  readonly reliable?: boolean;
  /** A reliable initiator's route to the listener, to resume along after losing its route. */
  readonly resumeVia?: Route;
}

/** Counters of a reliable channel end (`SecureChannel.reliability`). */
export interface ReliabilityStats {
  /** Frames sent and not yet acknowledged, and their bytes (at most about `maxUnackedBytes`). */
  readonly unackedFrames: number;
  readonly unackedBytes: number;
  /** Frames sent again, and the times this end went back to send again (a probe, or a new route). */
  readonly retransmitted: number;
  readonly retransmissions: number;
  /** Frames the peer sent twice (each delivered once), and frames that came ahead of a lost one. */
  readonly duplicates: number;
  readonly ahead: number;
}

/** @internal The parts of one channel end. Each holds the handle, and reaches the others through `end`. */
export interface ChannelEnd {
  /** Encrypts and sends: the send keys, chunking, the worker at the channel's address. */
  readonly encryptor: Encryptor;
  /** Receives: the receive keys, the replay window, sending order, reassembly, delivery. */
  readonly decryptor: Decryptor;
  /** Open and closed: the close reason, pending requests, the workers' stops, the route's first hop. */
  readonly lifecycle: ChannelLifecycle;
  /** Keepalive PINGs, the peer's silence, the idle timeout. */
  readonly liveness: Liveness;
}

/**
 * One end of an open secure channel: a handle on its parts (`encryptor.ts` sends, `decryptor.ts` receives,
 * `lifecycle.ts` and `liveness.ts` keep it open). Its `address` is the local encryptor: a message sent to
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
  readonly stats: SecureChannelStats = {
    framesSent: 0,
    framesReceived: 0,
    messagesSent: 0,
    messagesReceived: 0,
    pingsSent: 0,
    routeNotices: 0,
    congestionHolds: 0,
    dropped: { decryptFailed: 0, replayed: 0, tooOld: 0, malformed: 0, tooLarge: 0, evicted: 0 },
    missing: { gaps: 0, frames: 0 },
    framesReordered: 0,
  };
  /** @internal */
  readonly end: ChannelEnd;
  /** @internal The credentials presented on this channel (channel-credentials.ts), when either side has any. */
  readonly credentials: ChannelCredentials | undefined;
  /** Made on first use: only an end with credentials needs them (see `credentialHooks`). */
  private hooks: ChannelCredentialHooks | undefined;

  /** @internal Made by the handshake worker when its handshake completes. */
  constructor(init: ChannelInit) {
    super();
    const { outcome } = init;
    this.address = init.encryptorAddress;
    this.decryptorAddress = init.decryptorAddress;
    this.remoteIdentity = outcome.remote;
    this.remoteIdentifier = outcome.remote?.identifier;
    this.remoteStaticKey = outcome.remoteStaticKey;
    this.protocolName = outcome.protocolName;
    this.isInitiator = init.initiator;
    this.handshakeHash = outcome.handshakeHash;
    this.maxMessageSize = Math.min(init.limits.maxMessageSize, outcome.peer.maxMessageSize);
    // Made in this order, none calls another before all exist.
    this.end = {
      lifecycle: new ChannelLifecycle(this, init),
      encryptor: new Encryptor(this, init),
      decryptor: new Decryptor(this, init),
      liveness: new Liveness(this, init),
    };
    this.credentials = outcome.credentials;
    this.credentials?.start(this.credentialHooks);
  }

  /** @internal What the credentials may do to this channel end. */
  get credentialHooks(): ChannelCredentialHooks {
    return (this.hooks ??= credentialHooksOf(this, this.end.lifecycle.logger));
  }

  /** `'reliable'` for a channel opened with `delivery: 'reliable'` (at both ends), otherwise `'default'`. */
  get delivery(): 'default' | 'reliable' {
    return this.end.encryptor.reliable === undefined ? 'default' : 'reliable';
  }

  /** A reliable channel's acknowledgement counters; undefined for a default one. */
  get reliability(): ReliabilityStats | undefined {
    const sender = this.end.encryptor.reliable;
    const receiver = this.end.decryptor.reliable;
    if (sender === undefined || receiver === undefined) return undefined;
    return {
      unackedFrames: sender.unackedFrames,
      unackedBytes: sender.unackedBytes,
      retransmitted: sender.retransmitted,
      retransmissions: sender.retransmissions,
      duplicates: receiver.duplicates,
      ahead: receiver.ahead,
    };
  }

  /** Whether the channel has closed. */
  get isClosed(): boolean {
    return this.end.lifecycle.reason !== undefined;
  }

  /** Why the channel closed, once it has. */
  get closeReason(): CloseReason | undefined {
    return this.end.lifecycle.reason;
  }

  /**
   * Why the channel closed, as a typed error: `PEER_UNRESPONSIVE` (reason `unresponsive`), the delivery
   * failure code of the dead letter that showed its route gone (`NO_ROUTE`, `CONNECTION_LOST`...), or
   * `CLOSED` with the reason in the message. Undefined while open.
   */
  get closeError(): SecureChannelError | undefined {
    return this.end.lifecycle.error;
  }

  /** Resolves with the reason once the channel closes (never rejects; see `closeError` for the details). */
  closed(): Promise<CloseReason> {
    return this.end.lifecycle.closed;
  }

  /**
   * Closes the channel at both ends: an authenticated Close goes to the peer, then this end's workers stop.
   * Later sends to the encryptor become dead letters (`undeliverable`, "secure channel ... is closed") for a
   * while, then `no-route`. Idempotent.
   */
  close(): Promise<void> {
    return this.end.lifecycle.close();
  }

  /**
   * @deprecated Send with `ctx.send(route(channel, ...), body)` (or `ctx.request`), the one way to send
   * through a channel; check `maxMessageSize` and `closeReason` first where a rejection matters.
   *
   * Sends `body` through the channel to `to` (the route beyond the channel, as `ctx.send` takes it:
   * `channel.send(ctx, 'echoer', 'hi')`), with `from`'s address as return route. Unlike a plain
   * `ctx.send(route(channel, ...))`, whose failures can only become dead letters, this rejects: `TOO_LARGE`
   * for a message over `maxMessageSize` (nothing is sent), `CLOSED` once the channel closed. Resolves once the
   * frames are queued at the next hop.
   */
  send(from: Addressable, to: Destination, body: unknown): Promise<void> {
    try {
      const onward = Array.isArray(to) ? route(...(to as readonly RoutePart[])) : route(to as RoutePart);
      return this.end.encryptor.transmit(onward, Route.of([from.address]), body) ?? Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
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
      delivery: this.delivery,
      closed: this.closeReason ?? false,
    };
  }

  /** What `console.log` and `util.inspect` show: the same public facts. */
  [inspect.custom](): string {
    return `SecureChannel ${JSON.stringify(this.toJSON())}`;
  }
}

/**
 * What an end's credentials may do to it. Made outside the constructor, so that its closures keep only the
 * channel and the logger, not the channel's `ChannelInit` (the handshake's outcome) for the channel's life.
 */
function credentialHooksOf(channel: SecureChannel, logger: Logger): ChannelCredentialHooks {
  return {
    logger,
    sendRefresh: (list) => {
      const plaintext = new Uint8Array(1 + list.length);
      plaintext[0] = PayloadKind.CREDENTIALS;
      plaintext.set(list, 1);
      void channel.end.encryptor.sendUnsequenced(plaintext);
    },
    close: (detail) => {
      logger.warn(
        { channel: channel.address.key, remote: channel.remoteIdentifier, detail },
        'secure channel closed: its peer is no longer trusted',
      );
      void channel.close();
    },
  };
}
