import type { TransportError } from './errors';

/** What a `ByteStream` tells its connection. */
export interface StreamEvents {
  /** Bytes arrived from the peer. */
  data(chunk: Uint8Array): void;
  /** The stream took its buffered bytes: a writer waiting after `write()` returned false may go on. */
  drain(): void;
  /** An outgoing stream is connected (TCP connect; the WebSocket upgrade done). */
  connect(): void;
  /** Nothing went either way for the idle timeout. */
  idle(): void;
  /** The peer broke the protocol beneath the framing (a text WebSocket message, an oversized one). */
  fail(reason: TransportError): void;
  /** The stream is closed, with what failed if anything did. Called once. */
  close(error: Error | undefined): void;
}

/** Timing a stream applies itself (the socket's own timers, where it has them). */
export interface StreamSettings {
  /** Nothing either way for this long raises `idle`. 0 disables. */
  readonly idleTimeoutMs: number;
  /** TCP keepalive probe delay, where the stream runs over a socket it controls. 0 disables. */
  readonly keepAliveMs: number;
}

/**
 * An ordered, reliable byte stream between two nodes: a TCP socket, or a WebSocket carrying the same bytes
 * in binary messages. A `StreamConnection` runs the Sealroute framing (docs/PROTOCOL.md section 3) over it:
 * preamble, length-prefixed frames, PING/PONG, limits, timeouts and backpressure, the same on every stream.
 */
export interface ByteStream {
  /** Starts delivering events. Called once, before anything is written. */
  start(events: StreamEvents, settings: StreamSettings): void;
  /** Queues bytes; false once the stream holds more than it wants (wait for `drain`). */
  write(bytes: Uint8Array): boolean;
  /**
   * Bytes written that the stream has not yet handed on (to the operating system): what destroying it now
   * would lose. Optional: a stream without it has its losses on close counted as in flight, not as dead
   * letters.
   */
  unsentBytes?(): number;
  /** Holds writes back until `uncork`, so frames written in one turn leave together. */
  cork(): void;
  uncork(): void;
  /** Stops reading (local backpressure), so the peer's writes back up toward it. */
  pause(): void;
  resume(): void;
  /** Flushes and closes gracefully, reading (and ignoring) until the peer closes too. */
  end(): void;
  /** Closes at once. */
  destroy(): void;
  readonly destroyed: boolean;
}
