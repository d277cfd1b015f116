import type { Authority, CredentialProvider, Identity } from '../identity';
import type { TrustPolicy } from '../identity';
import type { KeyId } from '../vault/vault';
import { MAX_TIMER_MS, resolveOptions, type ResolvedOptions } from '../core/options';
import { SecureChannelError } from './errors';

/** The defaults of every secure channel limit. */
export const SECURE_CHANNEL_DEFAULTS = {
  /** Noise protocol of `createSecureChannel`. */
  protocol: 'Noise_XX_25519_ChaChaPoly_SHA256',
  /** How long `createSecureChannel` waits for the handshake to complete, in ms. */
  timeout: 30_000,
  /** Largest message (routes and encoded body) a channel end accepts: 16 MiB. */
  maxMessageSize: 16 * 1024 * 1024,
  /** Chunked messages being reassembled at once per channel end; one more evicts the oldest. */
  maxPartialMessages: 4,
  /** Width of the replay window, in frames: how far frames may be reordered and still be delivered. */
  replayWindow: 1024,
  /** Bytes one channel end may hold in chunked messages being reassembled: 32 MiB. */
  maxReassemblyBytes: 32 * 1024 * 1024,
  /** How long a frame that arrived ahead of a missing one is held before the gap is reported, in ms. */
  reorderTimeout: 2_000,
  /** Bytes one channel end may hold in frames that arrived ahead of a missing one: 4 MiB. */
  maxReorderBytes: 4 * 1024 * 1024,
  /** Bytes all channel ends of one node may hold for reassembly and reordering together: 128 MiB. */
  maxReceiveBytesPerNode: 128 * 1024 * 1024,
  /** Frames sent under one key before the sender rekeys (Noise REKEY). */
  rekeyInterval: 65_536,
  /** Handshakes a listener runs at once; one more evicts the oldest of the source holding the most. */
  maxPendingHandshakes: 256,
  /** Handshakes a listener runs at once for one source (the first hops of the return route). */
  maxPendingHandshakesPerSource: 16,
  /** How long a listener's responder waits for a handshake to complete, in ms. */
  handshakeTimeout: 10_000,
  /** How long a closed channel's encryptor stays to dead-letter late sends with a clear reason, in ms. */
  closedLinger: 10_000,
  /** After this long without a frame from the peer, a channel end sends a PING, in ms. 0: no liveness. */
  keepaliveInterval: 10_000,
  /** After this long without an authenticated frame from the peer, the channel closes (`PEER_UNRESPONSIVE`). */
  peerTimeout: 30_000,
  /** A channel that carried no message either way for this long closes (an ordinary CLOSE). 0: never. */
  idleTimeout: 0,
  /** Open channels a listener holds per peer identity; one more closes that identity's oldest. */
  maxChannelsPerIdentity: 1_024,
  /** Reliable channels: bytes of frames not yet acknowledged a sender holds before sends wait: 8 MiB. */
  maxUnackedBytes: 8 * 1024 * 1024,
  /** Reliable channels: ms without an acknowledgement after which the unacknowledged frames go again. */
  retransmitInterval: 1_000,
} as const;

/** Options both ends of a channel take. */
export interface ChannelEndOptions {
  /** Whom to accept: asked once per handshake about the peer's proven identity. Required. */
  readonly trustPolicy: TrustPolicy;
  /**
   * Credentials this end presents about its identity in the handshake (a fixed list, or a provider such as
   * `MemberCredentials`, whose renewals are sent over every open channel). Default none.
   */
  readonly credentials?: CredentialProvider | readonly Uint8Array[];
  /**
   * Authorities whose credentials this end accepts from the peer, besides those its trust policy names
   * (`TrustCredential`): identities, public keys (bytes or 64 hex digits). A credential of another issuer is
   * ignored; a forged, expired or misdirected one refuses the handshake.
   */
  readonly authorities?: readonly (Authority | Identity | Uint8Array | string)[];
  /** How far the peer's clock may disagree when its credentials are checked, in ms. Default 5 s. */
  readonly clockSkewMs?: number;
  /** Largest message this end accepts (the peer learns it in the handshake). Default 16 MiB. */
  readonly maxMessageSize?: number;
  /** Chunked messages in reassembly at once. Default 4. */
  readonly maxPartialMessages?: number;
  /** Replay window width in frames. Default 1024. */
  readonly replayWindow?: number;
  /**
   * Bytes this end may hold in chunked messages being reassembled (charged as pieces arrive, not as the
   * sender declares). Starting or growing one beyond it gives up this end's oldest partial message (counted
   * in `stats.dropped.evicted`). Default 32 MiB.
   */
  readonly maxReassemblyBytes?: number;
  /**
   * Milliseconds a frame that arrived ahead of a missing one is held (so messages are delivered in sending
   * order) before the missing range is reported as a `gap` and delivery goes on. Default 2000.
   */
  readonly reorderTimeout?: number;
  /** Bytes this end may hold in frames waiting for a missing one; beyond it the gap is reported at once. Default 4 MiB. */
  readonly maxReorderBytes?: number;
  /** This end rekeys its sending key every this many frames (announced to the peer). Default 65536. */
  readonly rekeyInterval?: number;
  /**
   * Milliseconds without any frame from the peer after which this end sends an authenticated PING (which the
   * peer answers with a PONG). 0 turns liveness checks off (and `peerTimeout` with them). Default 10 s.
   */
  readonly keepaliveInterval?: number;
  /**
   * Milliseconds without any authenticated frame from the peer after which the channel closes with reason
   * `unresponsive` (`closeError.code` `PEER_UNRESPONSIVE`): requests pending through it fail at once.
   * Checked about every `min(keepaliveInterval, peerTimeout / 4)`. Default 30 s.
   */
  readonly peerTimeout?: number;
  /** Milliseconds without a message either way after which the channel closes (reason `idle`). 0: never. */
  readonly idleTimeout?: number;
  /**
   * Reliable channels: bytes of frames sent and not yet acknowledged this end holds; past it, sends wait
   * (the encryptor's handler and `channel.send` return a promise). Default 8 MiB.
   */
  readonly maxUnackedBytes?: number;
  /** Reliable channels: ms without an acknowledgement before the unacknowledged frames go again. Default 1 s. */
  readonly retransmitInterval?: number;
  /**
   * An X25519 key of the identity's vault to use as Noise static key (so IK initiators can pin it across
   * restarts). Default: a key generated once per identity and process.
   */
  readonly staticKeyId?: KeyId;
}

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

/** The limits of one channel end, resolved and checked. */
export interface ChannelLimits {
  readonly maxMessageSize: number;
  readonly maxPartialMessages: number;
  readonly replayWindow: number;
  readonly maxReassemblyBytes: number;
  readonly reorderTimeout: number;
  readonly maxReorderBytes: number;
  readonly rekeyInterval: number;
  readonly closedLinger: number;
  readonly keepaliveInterval: number;
  readonly peerTimeout: number;
  readonly idleTimeout: number;
  readonly maxUnackedBytes: number;
  readonly retransmitInterval: number;
}

const U32_MAX = 0xffff_ffff;
const D = SECURE_CHANNEL_DEFAULTS;

const invalidOptions = (message: string): SecureChannelError =>
  new SecureChannelError('INVALID_OPTIONS', message);

/** The limits of a channel end: defaults and ranges, for `resolveOptions`. */
const LIMIT_SPECS = {
  maxMessageSize: { default: D.maxMessageSize, min: 1, max: U32_MAX },
  maxPartialMessages: { default: D.maxPartialMessages, min: 1, max: 1024 },
  replayWindow: { default: D.replayWindow, min: 1, max: 1 << 20 },
  maxReassemblyBytes: { default: D.maxReassemblyBytes, min: 1, max: Number.MAX_SAFE_INTEGER },
  reorderTimeout: { default: D.reorderTimeout, min: 1, max: MAX_TIMER_MS },
  maxReorderBytes: { default: D.maxReorderBytes, min: 1, max: Number.MAX_SAFE_INTEGER },
  rekeyInterval: { default: D.rekeyInterval, min: 1, max: U32_MAX },
  keepaliveInterval: { default: D.keepaliveInterval, min: 0, max: MAX_TIMER_MS },
  peerTimeout: { default: D.peerTimeout, min: 1, max: MAX_TIMER_MS },
  idleTimeout: { default: D.idleTimeout, min: 0, max: MAX_TIMER_MS },
  maxUnackedBytes: { default: D.maxUnackedBytes, min: 1, max: Number.MAX_SAFE_INTEGER },
  retransmitInterval: { default: D.retransmitInterval, min: 1, max: MAX_TIMER_MS },
} as const;

/** What only a listener takes: defaults and ranges. */
const LISTENER_SPECS = {
  maxPendingHandshakes: { default: D.maxPendingHandshakes, min: 1, max: 1 << 20 },
  maxPendingHandshakesPerSource: { default: D.maxPendingHandshakesPerSource, min: 1, max: 1 << 20 },
  handshakeTimeout: { default: D.handshakeTimeout, min: 1, max: MAX_TIMER_MS },
  maxChannelsPerIdentity: { default: D.maxChannelsPerIdentity, min: 1, max: 2 ** 31 - 1 },
} as const;

/** What only an initiator takes: defaults and ranges. */
const INITIATOR_SPECS = {
  timeout: { default: D.timeout, min: 1, max: MAX_TIMER_MS },
} as const;

/**
 * Fills in the defaults of a channel end's limits (an option given as `undefined` keeps its default);
 * throws `INVALID_OPTIONS` naming `<owner>.<option>` and its range, or for a missing trust policy.
 */
export function resolveLimits(options: ChannelEndOptions, owner = 'SecureChannelOptions'): ChannelLimits {
  if (options.trustPolicy === undefined || typeof options.trustPolicy.check !== 'function') {
    throw invalidOptions('a trustPolicy is required (TrustEveryone to accept anyone)');
  }
  const limits = resolveOptions(owner, LIMIT_SPECS, options, invalidOptions);
  return { ...limits, closedLinger: D.closedLinger };
}

/** A listener's own options resolved (see `resolveLimits`). */
export function resolveListenerOptions(
  options: SecureChannelListenerOptions,
): ResolvedOptions<typeof LISTENER_SPECS> {
  return resolveOptions('SecureChannelListenerOptions', LISTENER_SPECS, options, invalidOptions);
}

/** An initiator's own options resolved (see `resolveLimits`). */
export function resolveInitiatorOptions(options: {
  readonly timeout?: number;
}): ResolvedOptions<typeof INITIATOR_SPECS> {
  return resolveOptions('SecureChannelOptions', INITIATOR_SPECS, options, invalidOptions);
}
