import { randomBytes } from 'node:crypto';
import { DecodeError } from '../../src/core/errors';
import {
  EnvelopeKind,
  PIECE_MAX_BYTES,
  PIECE_OFFSET_BYTES,
  decodeEnvelope,
  headerSize,
  writeHeader,
  type Envelope,
} from '../../src/federation/envelope';
import { FramePieces, publishPieces } from '../../src/federation/frame-pieces';
import type { FederationBus } from '../../src/federation/nats-bus';

const IDS = { hub: 'a', instance: 'ab'.repeat(16), epoch: 5, peerEpoch: 7, seq: 3 };

/** What `publishPieces` publishes: each envelope decoded, and whether its body was a view of `tail`. */
function piecesOf(
  head: Uint8Array,
  tail: Uint8Array | undefined,
): { envelopes: Envelope[]; views: boolean[] } {
  const envelopes: Envelope[] = [];
  const views: boolean[] = [];
  const bus = {
    publish: (_subject: string, data: Uint8Array, body?: Uint8Array) => {
      expect(data.length + (body?.length ?? 0)).toBeLessThanOrEqual(PIECE_MAX_BYTES);
      envelopes.push(decodeEnvelope(Buffer.concat([data, body ?? new Uint8Array(0)])));
      views.push(body !== undefined && body.buffer === tail?.buffer);
    },
  } as unknown as FederationBus;
  publishPieces(bus, 'subject', IDS, head, tail);
  return { envelopes, views };
}

describe('publishPieces', () => {
  it('cuts a frame into PARTs and a LAST of equal size, numbered with its seq, the tail not copied', () => {
    const head = randomBytes(300);
    const tail = randomBytes(64 * 1024 + 200);
    const { envelopes, views } = piecesOf(head, tail);
    expect(envelopes.map((e) => e.kind)).toEqual([EnvelopeKind.PART, EnvelopeKind.PART, EnvelopeKind.LAST]);
    expect(envelopes.every((e) => e.seq === IDS.seq && e.epoch === IDS.epoch && e.peerEpoch === 7)).toBe(
      true,
    );
    expect(views).toEqual([true, true, true]);
    let offset = 0;
    for (const e of envelopes) {
      expect(e.offset).toBe(offset);
      offset += e.frame.length;
    }
    expect(Buffer.concat(envelopes.map((e) => e.frame)).equals(Buffer.concat([head, tail]))).toBe(true);
  });

  it('cuts a frame whose head alone is longer than a piece (a long route) into the same bytes', () => {
    const head = randomBytes(70_000);
    const tail = randomBytes(40_000);
    const { envelopes } = piecesOf(head, tail);
    expect(envelopes.at(-1)!.kind).toBe(EnvelopeKind.LAST);
    expect(Buffer.concat(envelopes.map((e) => e.frame)).equals(Buffer.concat([head, tail]))).toBe(true);
  });

  it('cuts a frame without a tail (a body encoded in it) the same way', () => {
    const head = randomBytes(100_000);
    const { envelopes } = piecesOf(head, undefined);
    expect(envelopes.at(-1)!.kind).toBe(EnvelopeKind.LAST);
    expect(Buffer.concat(envelopes.map((e) => e.frame)).equals(head)).toBe(true);
  });
});

describe('FramePieces', () => {
  const frame = randomBytes(90_000);
  const pieces = (): Envelope[] => piecesOf(frame.subarray(0, 10), frame.subarray(10)).envelopes;

  it('gives the whole frame as a DATA envelope once its LAST piece came', () => {
    const assembled = new FramePieces(() => 1 << 20, 8 << 20);
    const [p0, p1, last] = pieces();
    expect(assembled.add(p0!)).toBeUndefined();
    expect(assembled.add(p1!)).toBeUndefined();
    const whole = assembled.add(last!)!;
    expect(whole).toMatchObject({ kind: EnvelopeKind.DATA, hub: 'a', seq: IDS.seq, offset: 0 });
    expect(Buffer.from(whole.frame).equals(frame)).toBe(true);
  });

  it('drops a frame one of whose pieces was lost (the gap accounting counts it), then takes the next', () => {
    const assembled = new FramePieces(() => 1 << 20, 8 << 20);
    const [p0, , last] = pieces();
    expect(assembled.add(p0!)).toBeUndefined();
    expect(assembled.add(last!)).toBeUndefined(); // does not continue: the frame is gone
    const again = pieces();
    expect(assembled.add(again[1]!)).toBeUndefined(); // no first piece: nothing to continue
    for (const piece of again.slice(0, 2)) assembled.add(piece);
    expect(Buffer.from(assembled.add(again[2]!)!.frame).equals(frame)).toBe(true);
  });

  it('keeps each hub to its own frame', () => {
    const assembled = new FramePieces(() => 1 << 20, 8 << 20);
    const fromA = pieces();
    const fromB = fromA.map((e) => ({ ...e, hub: 'b' }));
    for (let i = 0; i < 2; i++) {
      assembled.add(fromA[i]!);
      assembled.add(fromB[i]!);
    }
    expect(Buffer.from(assembled.add(fromB[2]!)!.frame).equals(frame)).toBe(true);
    expect(Buffer.from(assembled.add(fromA[2]!)!.frame).equals(frame)).toBe(true);
  });

  it('holds at most its bound in all, under however many hub names pieces claim', () => {
    const evicted: string[] = [];
    const assembled = new FramePieces(
      () => 1 << 20,
      100_000,
      (hub) => evicted.push(hub),
    );
    const [p0, p1] = pieces();
    for (let i = 0; i < 50; i++) {
      assembled.add({ ...p0!, hub: `h${i}` });
      assembled.add({ ...p1!, hub: `h${i}` });
      expect(assembled.heldBytes).toBeLessThanOrEqual(100_000);
    }
    // The oldest made room for the newest; a frame in progress from a real hub still completes.
    expect(evicted.slice(0, 3)).toEqual(['h0', 'h1', 'h2']);
    const real = pieces();
    for (const piece of real.slice(0, 2)) assembled.add(piece);
    expect(Buffer.from(assembled.add(real[2]!)!.frame).equals(frame)).toBe(true);
    expect(assembled.heldBytes).toBeLessThanOrEqual(100_000);
  });

  it('refuses pieces that add up to more than a frame may be (a hostile hub cannot pile them up)', () => {
    const assembled = new FramePieces(() => 50_000, 8 << 20);
    const [p0, p1] = pieces();
    assembled.add(p0!);
    expect(() => assembled.add(p1!)).toThrow(DecodeError);
  });
});

describe('PART and LAST envelopes', () => {
  it('carry their offset, and one without it does not decode', () => {
    const out = Buffer.alloc(headerSize(1) + PIECE_OFFSET_BYTES + 3);
    writeHeader(out, EnvelopeKind.PART, 'a', IDS.instance, 1, 2, 9);
    out.writeUInt32BE(70_000, headerSize(1));
    expect(decodeEnvelope(out)).toMatchObject({ kind: EnvelopeKind.PART, seq: 9, offset: 70_000 });
    expect(decodeEnvelope(out).frame).toHaveLength(3);
    expect(() => decodeEnvelope(out.subarray(0, headerSize(1) + 2))).toThrow(DecodeError);
    expect(() => decodeEnvelope(out.subarray(0, headerSize(1) + PIECE_OFFSET_BYTES))).toThrow(DecodeError);
  });
});
