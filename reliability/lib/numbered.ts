/**
 * Numbered messages, and the sink that checks them: each body carries its sequence number and a pattern
 * derived from it, so the receiver can tell a message delivered once and intact from a duplicate or a
 * corrupted one, and the sender can reconcile what it sent with what arrived (see reconcile.ts).
 */
import type { Context, NodeRuntime, Routed, AccessRule } from '../../src';

/** Bytes before the pattern: the sequence number (u32, big-endian) and a flags byte. */
const HEADER = 5;
/** Flag: the sender waits for the sink to answer with the sequence number. */
const WANTS_ACK = 1;

/** A message body of `size` bytes (at least 5) carrying `seq`. */
export function numbered(seq: number, size: number, wantsAck = false): Uint8Array {
  const body = new Uint8Array(Math.max(HEADER, size));
  new DataView(body.buffer).setUint32(0, seq >>> 0, false);
  body[4] = wantsAck ? WANTS_ACK : 0;
  for (let i = HEADER; i < body.length; i++) body[i] = (seq + i) & 0xff;
  return body;
}

/** What a numbered body says, or 'corrupt' if its pattern does not match its number. */
export function readNumbered(body: Uint8Array): { seq: number; wantsAck: boolean } | 'corrupt' {
  if (body.length < HEADER) return 'corrupt';
  const seq = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0, false);
  for (let i = HEADER; i < body.length; i++) if (body[i] !== ((seq + i) & 0xff)) return 'corrupt';
  return { seq, wantsAck: (body[4]! & WANTS_ACK) !== 0 };
}

/** A set of sequence numbers as a growable bitmap (a million numbers take 128 KiB). */
export class SeqSet {
  private bits = new Uint8Array(1024);
  private size = 0;

  /** Adds `seq`; false if it was there already. */
  add(seq: number): boolean {
    const byte = seq >>> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.bits.length * 2));
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (seq & 7);
    if ((this.bits[byte]! & mask) !== 0) return false;
    this.bits[byte]! |= mask;
    this.size++;
    return true;
  }

  has(seq: number): boolean {
    const byte = seq >>> 3;
    return byte < this.bits.length && (this.bits[byte]! & (1 << (seq & 7))) !== 0;
  }

  get count(): number {
    return this.size;
  }

  /** The bitmap as base64, to cross a process boundary. */
  toBase64(): string {
    let end = this.bits.length;
    while (end > 0 && this.bits[end - 1] === 0) end--;
    return Buffer.from(this.bits.subarray(0, end)).toString('base64');
  }

  static fromBase64(text: string): SeqSet {
    const set = new SeqSet();
    const bytes = Buffer.from(text, 'base64');
    for (let byte = 0; byte < bytes.length; byte++) {
      for (let bit = 0; bit < 8; bit++) if ((bytes[byte]! & (1 << bit)) !== 0) set.add(byte * 8 + bit);
    }
    return set;
  }
}

/** What a sink has seen. */
export interface SinkCounts {
  /** Distinct intact numbered messages. */
  received: number;
  /** Intact numbered messages whose number had arrived before. */
  duplicates: number;
  /** Numbered messages whose pattern did not match their number. */
  corrupted: number;
}

/**
 * A worker that checks numbered messages: it records each number, counts duplicates and corrupted
 * bodies, and answers the number to senders that wait for it. A text body `count` is answered with the
 * counts (once every message sent before it on the same route has been handled: it is a flush).
 */
export class Sink {
  readonly seen = new SeqSet();
  readonly counts: SinkCounts = { received: 0, duplicates: 0, corrupted: 0 };

  /** Starts a sink at `address` on `node`. */
  static async start(node: NodeRuntime, address: string, access?: AccessRule): Promise<Sink> {
    const sink = new Sink();
    await node.startWorker(address, { handleMessage: (ctx, msg) => sink.handle(ctx, msg) }, { access });
    return sink;
  }

  private handle(ctx: Context, message: Routed): Promise<unknown> | undefined {
    const body = message.body;
    if (body === 'count') return ctx.send(message.returnRoute, { ...this.counts });
    if (!(body instanceof Uint8Array)) return undefined;
    const read = readNumbered(body);
    if (read === 'corrupt') {
      this.counts.corrupted++;
      return undefined;
    }
    if (this.seen.add(read.seq)) this.counts.received++;
    else this.counts.duplicates++;
    return read.wantsAck ? ctx.send(message.returnRoute, read.seq) : undefined;
  }
}
