import type { ByteStream, StreamEvents, StreamSettings } from '../byte-stream';
import { TransportError } from '../errors';

/** The kinds of segment on a node's subject (docs/federation.md, "A NATS transport for nodes"). */
export const SegmentKind = Object.freeze({
  /** Opens a stream; the payload is the opener's own subject, where the answers go. */
  OPEN: 1,
  ACCEPT: 2,
  DATA: 3,
  /** The receiver took this many more bytes (a u32): the sender may send as many more. */
  CREDIT: 4,
  END: 5,
  RESET: 6,
} as const);
export type SegmentKind = (typeof SegmentKind)[keyof typeof SegmentKind];

/** kind (1) | stream id (16) | sequence number (4): then the payload. */
export const SEGMENT_HEADER = 21;

/**
 * Bytes a sender may have sent beyond what its peer took: the receive window. It bounds what one stream
 * puts into NATS (and the receiver's buffer while its connection is paused), as TCP's window does.
 */
export const WINDOW_BYTES = 1024 * 1024;
/** Bytes queued for credit beyond which `write` says to wait. */
const QUEUE_HIGH_BYTES = 64 * 1024;

/** What a stream needs of the node's NATS port. */
export interface SegmentSender {
  /** The node's own subject. */
  readonly subject: string;
  /** The largest payload of one segment. */
  readonly maxSegment: number;
  send(to: string, kind: SegmentKind, id: Uint8Array, seq: number, payload?: Uint8Array): void;
  /** The stream is done: forget its id. */
  forget(stream: NatsStream): void;
}

/**
 * A reliable, ordered byte stream between two nodes' NATS subjects, for the framing of every stream
 * transport. Core NATS delivers at most once and cuts slow consumers: every segment is numbered and a gap
 * fails the stream (never silently); a credit window keeps a sender from sending more than its peer took,
 * so a paused reader holds up its writer, as with TCP.
 */
export class NatsStream implements ByteStream {
  destroyed = false;
  private events: StreamEvents | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private idleMs = 0;
  private sent = 0;
  private received = 0;
  private credit = WINDOW_BYTES;
  /** Bytes this side may still receive before the peer overruns its window. */
  private window = WINDOW_BYTES;
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private full = false;
  private corked = false;
  private paused = false;
  private readonly held: Uint8Array[] = [];
  private taken = 0;
  private ending = false;
  private open = false;
  private failing = false;
  private readonly done: (() => void)[] = [];

  constructor(
    private readonly port: SegmentSender,
    readonly id: Uint8Array,
    /** The peer's subject. */
    readonly peer: string,
    readonly outgoing: boolean,
  ) {
    // An accepted stream was opened by the peer's first segment (its OPEN, number 1).
    this.received = outgoing ? 0 : 1;
  }

  start(events: StreamEvents, settings: StreamSettings): void {
    this.events = events;
    this.idleMs = settings.idleTimeoutMs;
    this.touch();
    if (this.outgoing) this.segment(SegmentKind.OPEN, new TextEncoder().encode(this.port.subject));
    else {
      this.open = true;
      this.segment(SegmentKind.ACCEPT);
    }
  }

  write(bytes: Uint8Array): boolean {
    if (this.destroyed || this.ending) return false;
    this.queue.push(bytes);
    this.queued += bytes.length;
    if (!this.corked) this.pump();
    if (this.queued > QUEUE_HIGH_BYTES) this.full = true;
    return !this.full;
  }

  unsentBytes(): number {
    return this.queued;
  }

  cork(): void {
    this.corked = true;
  }

  uncork(): void {
    this.corked = false;
    this.pump();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    while (!this.paused && this.held.length > 0 && !this.destroyed) this.deliver(this.held.shift()!);
  }

  end(): void {
    if (this.destroyed || this.ending) return;
    this.ending = true;
    this.pump();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.segment(SegmentKind.RESET);
    this.finish(undefined);
  }

  /** Runs `fn` once the stream is closed (a listener's admission is given back so). */
  whenDone(fn: () => void): void {
    if (this.destroyed) fn();
    else this.done.push(fn);
  }

  /** A segment of this stream came from the peer. */
  onSegment(kind: number, seq: number, payload: Uint8Array): void {
    if (this.destroyed) return;
    this.touch();
    if (kind === SegmentKind.RESET) return this.finish(new Error('the peer reset the stream'));
    if (seq !== this.received + 1) {
      // Core NATS lost a segment (a slow consumer cut, a reconnect): the bytes are no longer a stream.
      const why = `segment ${seq} after ${this.received}: NATS lost ${seq - this.received - 1}`;
      return this.fail(new TransportError('MALFORMED', why));
    }
    this.received = seq;
    switch (kind) {
      case SegmentKind.ACCEPT:
        if (!this.outgoing || this.open)
          return this.fail(new TransportError('MALFORMED', 'unexpected ACCEPT'));
        this.open = true;
        this.events?.connect();
        return this.pump();
      case SegmentKind.DATA:
        if (payload.length > this.window) {
          return this.fail(new TransportError('MALFORMED', 'the peer sent beyond its credit'));
        }
        this.window -= payload.length;
        if (this.paused) this.held.push(payload);
        else this.deliver(payload);
        return;
      case SegmentKind.CREDIT:
        if (payload.length !== 4) return this.fail(new TransportError('MALFORMED', 'a malformed CREDIT'));
        this.credit += new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0);
        return this.pump();
      case SegmentKind.END:
        return this.finish(undefined);
      default:
        return this.fail(new TransportError('MALFORMED', `a segment of unknown kind ${kind}`));
    }
  }

  private deliver(payload: Uint8Array): void {
    this.events?.data(payload);
    this.taken += payload.length;
    if (this.taken >= WINDOW_BYTES / 4 && !this.destroyed) {
      const credit = new Uint8Array(4);
      new DataView(credit.buffer).setUint32(0, this.taken);
      this.window += this.taken;
      this.taken = 0;
      this.segment(SegmentKind.CREDIT, credit);
    }
  }

  /** Sends what the credit allows, in segments NATS takes; then END if ending and nothing is left. */
  private pump(): void {
    if (!this.open || this.destroyed) return;
    while (this.queue.length > 0 && this.credit > 0) {
      const head = this.queue[0]!;
      const n = Math.min(head.length, this.credit, this.port.maxSegment);
      this.segment(SegmentKind.DATA, head.subarray(0, n));
      this.credit -= n;
      this.queued -= n;
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
    }
    if (this.full && this.queued <= QUEUE_HIGH_BYTES) {
      this.full = false;
      this.events?.drain();
    }
    if (this.ending && this.queue.length === 0) {
      this.segment(SegmentKind.END);
      this.finish(undefined);
    }
  }

  private segment(kind: SegmentKind, payload?: Uint8Array): void {
    this.touch();
    try {
      this.port.send(this.peer, kind, this.id, ++this.sent, payload);
    } catch (err) {
      this.fail(new TransportError('CONNECTION_CLOSED', 'NATS did not take a segment', { cause: err }));
    }
  }

  private fail(reason: TransportError): void {
    if (this.destroyed || this.failing) return;
    this.failing = true;
    this.events?.fail(reason);
    this.segment(SegmentKind.RESET);
    this.finish(reason);
  }

  private finish(error: Error | undefined): void {
    if (this.destroyed) return;
    this.destroyed = true;
    clearTimeout(this.idleTimer);
    this.port.forget(this);
    for (const fn of this.done.splice(0)) fn();
    this.events?.close(error);
  }

  private touch(): void {
    if (this.idleMs <= 0 || this.destroyed) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.events?.idle(), this.idleMs);
    this.idleTimer.unref();
  }
}
