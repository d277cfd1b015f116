import { randomBytes } from 'node:crypto';
import type { Admission, ConnectionGate } from '../connection-gate';
import { TransportError } from '../errors';
import type { StreamListener } from '../stream-transport';
import type { NatsLink } from './nats-link';
import { NatsStream, SEGMENT_HEADER, SegmentKind, type SegmentSender } from './nats-stream';

/** What the port hands its transport. */
export interface NatsPortHost {
  accept(stream: NatsStream, remote: string, admission: Admission): void;
  refuse(listener: string, remote: string, reason: TransportError): void;
}

const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Whether `subject` is a plain NATS subject (no wildcards, at most 255 characters). */
export function isNatsSubject(subject: string): boolean {
  return subject.length <= 255 && SUBJECT.test(subject);
}

/**
 * A node's place on NATS: its one subscription, to its own subject, where every segment of every stream
 * to it arrives (by stream id), and where streams that others open are offered to its listener. A node
 * never subscribes to anything else: whoever may subscribe to a subject sees what is sent there.
 */
export class NatsPort implements SegmentSender, StreamListener {
  private readonly streams = new Map<string, NatsStream>();
  private readonly subscription: { unsubscribe(): void };
  /** Resolves once the server has the subscription: what is sent to the subject from then on arrives. */
  readonly subscribed: Promise<void>;
  private listening: { gate: ConnectionGate; host: NatsPortHost } | undefined;

  constructor(
    private readonly link: NatsLink,
    readonly subject: string,
  ) {
    this.subscription = link.subscribe(subject, (data) => this.onSegment(data));
    this.subscribed = link.flush();
    this.subscribed.catch(() => undefined); // awaited by a listener; a client needs no confirmation
  }

  get bound(): string {
    return this.subject;
  }

  get maxSegment(): number {
    return Math.max(1024, Math.min(64 * 1024, this.link.maxPayload - SEGMENT_HEADER));
  }

  /** Accepts streams opened to this subject from now on. */
  listen(gate: ConnectionGate, host: NatsPortHost): void {
    this.listening = { gate, host };
  }

  /** Stops accepting (the streams accepted go on). */
  close(): Promise<void> {
    this.listening = undefined;
    return Promise.resolve();
  }

  /** A new stream to the node at `peer`, opened when started. */
  dial(peer: string): NatsStream {
    const stream = new NatsStream(this, randomBytes(16), peer, true);
    this.streams.set(Buffer.from(stream.id).toString('hex'), stream);
    return stream;
  }

  send(to: string, kind: SegmentKind, id: Uint8Array, seq: number, payload?: Uint8Array): void {
    const segment = new Uint8Array(SEGMENT_HEADER + (payload?.length ?? 0));
    segment[0] = kind;
    segment.set(id, 1);
    new DataView(segment.buffer).setUint32(17, seq);
    if (payload !== undefined) segment.set(payload, SEGMENT_HEADER);
    this.link.publish(to, segment);
  }

  forget(stream: NatsStream): void {
    const key = Buffer.from(stream.id).toString('hex');
    if (this.streams.get(key) === stream) this.streams.delete(key);
  }

  /** Resets every stream and unsubscribes. */
  stop(): void {
    this.listening = undefined;
    for (const stream of [...this.streams.values()]) stream.destroy();
    this.subscription.unsubscribe();
  }

  private onSegment(data: Uint8Array): void {
    if (data.length < SEGMENT_HEADER) return; // not ours: nothing to answer to
    const kind = data[0]!;
    const id = data.subarray(1, 17);
    const seq = new DataView(data.buffer, data.byteOffset + 17, 4).getUint32(0);
    const payload = data.subarray(SEGMENT_HEADER);
    const key = Buffer.from(id).toString('hex');
    const stream = this.streams.get(key);
    if (stream !== undefined) return stream.onSegment(kind, seq, payload);
    if (kind !== SegmentKind.OPEN || seq !== 1) return; // a stream that ended: dropped, as TCP drops late segments
    const remote = new TextDecoder().decode(payload);
    if (!isNatsSubject(remote)) return;
    const listening = this.listening;
    if (listening === undefined) return this.send(remote, SegmentKind.RESET, id, 1);
    const admission = listening.gate.admit(remote);
    if (admission instanceof TransportError) {
      this.send(remote, SegmentKind.RESET, id, 1);
      return listening.host.refuse(this.subject, remote, admission);
    }
    const accepted = new NatsStream(this, Uint8Array.from(id), remote, false);
    this.streams.set(key, accepted);
    accepted.whenDone(admission.release);
    listening.host.accept(accepted, remote, admission);
  }
}
