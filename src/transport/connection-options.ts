import { MAX_TIMER_MS, resolveOptions, type IntegerRange, type OptionSpecs } from '../core/options';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../core/wire';
import { TransportError } from './errors';

/**
 * How a stream transport (TCP, WebSocket) and its connections behave: the same limits, timeouts and
 * least-privilege defaults whatever carries the bytes. Every field has a default (`CONNECTION_DEFAULTS`).
 */
export interface ConnectionOptions {
  /**
   * The largest frame (encoded transport message) sent or accepted. A peer declaring a longer frame is
   * disconnected before anything is allocated; a longer outgoing message becomes a dead letter.
   */
  readonly maxFrameSize?: number;
  /** How long an outgoing connection may take, TCP connect plus the peer's preamble. */
  readonly connectTimeoutMs?: number;
  /** How long an accepted peer may take to send its preamble. */
  readonly handshakeTimeoutMs?: number;
  /**
   * How long a frame may take from its first byte to its last. Bounds slow-drip ("slowloris") peers, who
   * keep a connection alive by trickling bytes of a frame that never completes.
   */
  readonly frameTimeoutMs?: number;
  /** A connection with no traffic either way for this long is closed. 0 disables. */
  readonly idleTimeoutMs?: number;
  /**
   * TCP keepalive probe delay (dead peers behind NAT are noticed). 0 disables keepalive. The kernel's probes
   * are answered by whatever holds the TCP connection (a proxy, a middlebox), so they cannot notice a silent
   * partition; `pingIntervalMs` and `peerTimeoutMs` do.
   */
  readonly keepAliveMs?: number;
  /**
   * After this long without receiving anything, a connection sends a PING frame (an empty frame), which the
   * peer answers with a PONG (docs/PROTOCOL.md section 3). 0 disables both PINGs and `peerTimeoutMs`.
   */
  readonly pingIntervalMs?: number;
  /**
   * A connection that received nothing (no frame, no PONG) for this long is closed with `PEER_UNRESPONSIVE`:
   * a silent partition or a vanished peer. Time spent with reading paused for local backpressure does not
   * count. Checked about every `min(pingIntervalMs, peerTimeoutMs / 4)`.
   */
  readonly peerTimeoutMs?: number;
  /**
   * How long a write waits for a peer that stopped reading (`'drain'`) before the connection is closed.
   * While it waits, the connection's worker holds its mailbox, so senders wait too.
   */
  readonly drainTimeoutMs?: number;
  /** How long a graceful close waits for queued bytes to be flushed before the socket is destroyed. */
  readonly closeTimeoutMs?: number;
  /** Connections a listener holds at once; further ones are refused (`LIMIT_REACHED`). */
  readonly maxConnectionsPerListener?: number;
  /** Connections a listener holds at once from one remote host (IP address). */
  readonly maxConnectionsPerRemote?: number;
  /**
   * Outgoing connections at once. A relaying node opens connections on its peers' behalf, so this bounds
   * what they can make it hold; a message that would need one more becomes an `undeliverable` dead letter.
   */
  readonly maxOutgoingConnections?: number;
  /**
   * Mailbox capacity of each connection's worker: messages queued before senders on this node wait. Messages
   * relayed from another connection never wait: they are queued up to `maxQueuedBytesPerConnection` (each
   * charged a fixed overhead beside its size), beyond that dropped as `CONGESTED`.
   */
  readonly connectionMailboxCapacity?: number;
  /**
   * Bytes that may wait in one connection's queue (its mailbox, counted by body size) toward a peer. A
   * message relayed from another connection that would exceed it is not queued but dead-lettered
   * (`undeliverable`) and counted in `stats.queueBytesRefused`, so a peer that stops reading makes a hub
   * hold at most this plus the frame being written, and the relay is not held up. Messages sent by this
   * node's own workers wait for room instead (backpressure). One message always fits an empty queue.
   */
  readonly maxQueuedBytesPerConnection?: number;
  /**
   * Bytes of partial frames (received, not yet complete) the transport holds across all its connections.
   * When a read would take it over, the connection holding the most is closed (`LIMIT_REACHED`), counted in
   * `stats.partialFrameBudgetClosed`. At least `maxFrameSize + 4`.
   */
  readonly maxPartialFrameBytes?: number;
  /**
   * How long an accepted connection may stay unvouched: nobody registered a forwarder through it, no secure
   * channel handshake completed over it, and no vouched connection sent anything to it (see
   * `vouchForOrigin`). Then it is closed (`TIMEOUT`). Unvouched connections are also the ones evicted, oldest
   * of the remote holding the most first, to admit a newcomer to a full listener. 0 disables the timeout.
   */
  readonly unvouchedTimeoutMs?: number;
  /**
   * Whether a message that came from outside this node (from a connection, or out of a secure channel) may
   * be sent on to a TCP address, opening a connection on the peer's behalf: what a chain of hubs needs
   * (`[TCP, h1] => [TCP, h2] => ...`). Default false: no peer can make this node connect anywhere (no pivot
   * into its network); such messages are refused as `access-denied`. Replies over the connection or channel a
   * message came by, and a hub's forwarders, do not need it.
   */
  readonly relayTransportMessages?: boolean;
}

/** The defaults of every `ConnectionOptions` field. */
export const CONNECTION_DEFAULTS: Required<ConnectionOptions> = Object.freeze({
  maxFrameSize: DEFAULT_MAX_MESSAGE_SIZE,
  connectTimeoutMs: 10_000,
  handshakeTimeoutMs: 10_000,
  // A full-size frame (16 MiB) needs about 2.2 Mbit/s to arrive within a minute.
  frameTimeoutMs: 60_000,
  idleTimeoutMs: 300_000,
  keepAliveMs: 30_000,
  pingIntervalMs: 10_000,
  peerTimeoutMs: 30_000,
  drainTimeoutMs: 30_000,
  closeTimeoutMs: 1_000,
  maxConnectionsPerListener: 4096,
  maxConnectionsPerRemote: 256,
  maxOutgoingConnections: 1024,
  connectionMailboxCapacity: 256,
  maxQueuedBytesPerConnection: 16 * 1024 * 1024,
  maxPartialFrameBytes: 64 * 1024 * 1024,
  unvouchedTimeoutMs: 30_000,
  relayTransportMessages: false,
});

const U32_MAX = 0xffff_ffff;
const COUNT: IntegerRange = { min: 0, max: Number.MAX_SAFE_INTEGER };
const DURATION: IntegerRange = { min: 0, max: MAX_TIMER_MS };

/** The range of every numeric `ConnectionOptions` field. */
const RANGES: Readonly<Record<Exclude<keyof ConnectionOptions, 'relayTransportMessages'>, IntegerRange>> = {
  maxFrameSize: { min: 0, max: U32_MAX },
  connectTimeoutMs: DURATION,
  handshakeTimeoutMs: DURATION,
  frameTimeoutMs: DURATION,
  idleTimeoutMs: DURATION,
  keepAliveMs: DURATION,
  pingIntervalMs: DURATION,
  peerTimeoutMs: DURATION,
  drainTimeoutMs: DURATION,
  closeTimeoutMs: DURATION,
  maxConnectionsPerListener: COUNT,
  maxConnectionsPerRemote: COUNT,
  maxOutgoingConnections: COUNT,
  connectionMailboxCapacity: COUNT,
  maxQueuedBytesPerConnection: { min: 1, max: Number.MAX_SAFE_INTEGER },
  maxPartialFrameBytes: COUNT,
  unvouchedTimeoutMs: DURATION,
};

/** Every option: its default (`CONNECTION_DEFAULTS`) and its range, for `resolveOptions`. */
const OPTION_SPECS: OptionSpecs = {
  ...Object.fromEntries(
    Object.entries(RANGES).map(([name, range]) => [
      name,
      { default: CONNECTION_DEFAULTS[name as keyof typeof RANGES], ...range },
    ]),
  ),
  relayTransportMessages: { default: false, oneOf: [false, true] },
};

/**
 * The options with defaults filled in and checked (an option given as `undefined` keeps its default);
 * throws `TransportError` `INVALID_OPTION` naming the option as `<label>.<field>` and its range.
 */
export function resolveConnectionOptions(
  options: ConnectionOptions = {},
  label = 'ConnectionOptions',
): Required<ConnectionOptions> {
  const fail = (message: string): TransportError => new TransportError('INVALID_OPTION', message);
  const given: Readonly<Record<string, unknown>> = { ...options };
  const resolved = resolveOptions(label, OPTION_SPECS, given, fail) as unknown as Required<ConnectionOptions>;
  if (resolved.maxPartialFrameBytes < resolved.maxFrameSize + 4) {
    throw fail(
      `${label}.maxPartialFrameBytes must be at least maxFrameSize + 4 (${resolved.maxFrameSize + 4}), got ${resolved.maxPartialFrameBytes}`,
    );
  }
  return resolved;
}
