import fc from 'fast-check';
import { ByteParts } from '../../src/core/byte-parts';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../../src/core/wire';
import { TransportError } from '../../src/transport/errors';
import { FrameParser, PREAMBLE, frameHeader, type FrameEvent } from '../../src/transport/frame-parser';

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function encodeStream(frames: Uint8Array[]): Uint8Array {
  return concat(PREAMBLE, ...frames.flatMap((frame) => [frameHeader(frame.length), frame]));
}

/** Splits bytes at the given cut points (sorted, deduplicated, within range). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.slice(from, point));
    from = point;
  }
  return chunks;
}

function drain(parser: FrameParser): FrameEvent[] {
  const events: FrameEvent[] = [];
  let event: FrameEvent | undefined;
  while ((event = parser.next()) !== undefined) events.push(event);
  return events;
}

function failure(run: () => unknown): TransportError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(TransportError);
    return err as TransportError;
  }
  throw new Error('expected a TransportError');
}

describe('FrameParser', () => {
  it('reads the preamble, then frames', () => {
    const parser = new FrameParser({ maxFrameSize: 100 });
    parser.push(encodeStream([Uint8Array.of(1, 2, 3), new Uint8Array(0), Uint8Array.of(9)]));
    expect(drain(parser)).toEqual([
      { kind: 'preamble' },
      { kind: 'frame', frame: Uint8Array.of(1, 2, 3) },
      { kind: 'frame', frame: new Uint8Array(0) },
      { kind: 'frame', frame: Uint8Array.of(9) },
    ]);
    expect(parser.inProgress).toBe(false);
    expect(parser.bufferedBytes).toBe(0);
  });

  it('yields the same frames however the stream is cut into chunks, tiny ones included', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 }),
        (frames, sizes) => {
          const stream = encodeStream(frames);
          const parser = new FrameParser({ maxFrameSize: 3000 });
          const events: FrameEvent[] = [];
          for (let at = 0, i = 0; at < stream.length; i++) {
            const size = sizes[i % sizes.length]!;
            parser.push(stream.slice(at, at + size));
            at += size;
            events.push(...drain(parser));
          }
          expect(events.slice(1)).toEqual(frames.map((frame) => ({ kind: 'frame', frame })));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('yields the same frames however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (frames, cuts) => {
          const parser = new FrameParser({ maxFrameSize: 300 });
          const events: FrameEvent[] = [];
          for (const chunk of split(encodeStream(frames), cuts)) {
            parser.push(chunk);
            events.push(...drain(parser));
          }
          expect(events[0]).toEqual({ kind: 'preamble' });
          expect(events.slice(1)).toEqual(frames.map((frame) => ({ kind: 'frame', frame })));
          expect(parser.inProgress).toBe(false);
        },
      ),
    );
  });

  it('on arbitrary bytes, returns frames within the limit or fails with a TransportError, never anything else', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.uint8Array({ maxLength: 200 }).map((tail) => concat(PREAMBLE, tail)),
        ),
        fc.array(fc.nat(), { maxLength: 20 }),
        (bytes, cuts) => {
          const parser = new FrameParser({ maxFrameSize: 64 });
          let pushed = 0;
          try {
            for (const chunk of split(bytes, cuts)) {
              parser.push(chunk);
              pushed += chunk.length;
              for (const event of drain(parser)) {
                if (event.kind === 'frame') expect(event.frame.length).toBeLessThanOrEqual(64);
              }
              expect(parser.bufferedBytes).toBeLessThanOrEqual(pushed);
            }
          } catch (err) {
            expect(err).toBeInstanceOf(TransportError);
            expect(['PROTOCOL_MISMATCH', 'FRAME_TOO_LARGE']).toContain((err as TransportError).code);
          }
        },
      ),
    );
  });

  it('refuses an absurd length as soon as the header is in, before any body arrives', () => {
    const parser = new FrameParser({ maxFrameSize: DEFAULT_MAX_MESSAGE_SIZE });
    parser.push(PREAMBLE);
    parser.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
    expect(parser.next()).toEqual({ kind: 'preamble' });
    const error = failure(() => parser.next());
    expect(error.code).toBe('FRAME_TOO_LARGE');
    expect(error.message).toContain(String(0xffffffff));
    // Sticky: the stream is done for.
    expect(failure(() => parser.next())).toBe(error);
    expect(failure(() => parser.push(Uint8Array.of(1)))).toBe(error);
  });

  it('accepts a frame of exactly the maximum, refuses one byte more', () => {
    const exact = new FrameParser({ maxFrameSize: 10 });
    exact.push(encodeStream([new Uint8Array(10)]));
    expect(drain(exact)).toHaveLength(2);
    const over = new FrameParser({ maxFrameSize: 10 });
    over.push(concat(PREAMBLE, frameHeader(11)));
    expect(failure(() => drain(over)).code).toBe('FRAME_TOO_LARGE');
  });

  it('allocates nothing for a declared length until the bytes are there', () => {
    const parser = new FrameParser({ maxFrameSize: 256 * 1024 * 1024 });
    parser.push(concat(PREAMBLE, frameHeader(256 * 1024 * 1024), Uint8Array.of(1, 2, 3)));
    const before = process.memoryUsage().arrayBuffers;
    expect(drain(parser)).toEqual([{ kind: 'preamble' }]);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
    expect(parser.bufferedBytes).toBe(3);
    expect(parser.inProgress).toBe(true);
  });

  it.each([
    ['random bytes', Uint8Array.of(0x47, 0x45, 0x54, 0x20), 'not a Sealroute node'],
    ['an HTTP request', new TextEncoder().encode('GET / HTTP/1.1\r\n'), 'not a Sealroute node'],
    ['another protocol version', Uint8Array.of(...PREAMBLE.subarray(0, 4), 9), 'version 9'],
  ])('refuses %s instead of a preamble', (_kind, bytes, text) => {
    const parser = new FrameParser({ maxFrameSize: 100 });
    parser.push(bytes);
    const error = failure(() => parser.next());
    expect(error.code).toBe('PROTOCOL_MISMATCH');
    expect(error.message).toContain(text);
  });

  it('refuses a wrong preamble at its first wrong byte, without waiting for the rest', () => {
    const parser = new FrameParser({ maxFrameSize: 100 });
    parser.push(Uint8Array.of(PREAMBLE[0]!, 0x00));
    expect(failure(() => parser.next()).code).toBe('PROTOCOL_MISMATCH');
  });

  it('is in progress until the preamble is in, and while part of a frame is', () => {
    const parser = new FrameParser({ maxFrameSize: 100 });
    expect(parser.inProgress).toBe(true);
    parser.push(PREAMBLE);
    drain(parser);
    expect(parser.inProgress).toBe(false);
    parser.push(Uint8Array.of(0, 0));
    expect(drain(parser)).toEqual([]);
    expect(parser.inProgress).toBe(true);
    parser.push(Uint8Array.of(0, 1, 7));
    expect(drain(parser)).toEqual([{ kind: 'frame', frame: Uint8Array.of(7) }]);
    expect(parser.inProgress).toBe(false);
  });

  it('reads a frame dribbled one byte at a time, keeping its chunk list short', () => {
    const frame = Uint8Array.from({ length: 20_000 }, (_, i) => i & 0xff);
    const parser = new FrameParser({ maxFrameSize: 20_000 });
    const events: FrameEvent[] = [];
    let slots = 0;
    for (const byte of encodeStream([frame])) {
      parser.push(Uint8Array.of(byte));
      events.push(...drain(parser));
      slots = Math.max(slots, (parser as unknown as { chunks: unknown[] }).chunks.length);
    }
    expect(events).toEqual([{ kind: 'preamble' }, { kind: 'frame', frame }]);
    // 20,000 one-byte chunks fit in a few 16 KiB tail buffers.
    expect(slots).toBeLessThan(16);
  });

  it('returns a frame that lies within one chunk as a view of it, without copying', () => {
    const chunk = encodeStream([Uint8Array.of(5, 6)]);
    const parser = new FrameParser({ maxFrameSize: 100 });
    parser.push(chunk);
    const [, event] = drain(parser);
    const frame = (event as { frame: Uint8Array }).frame;
    expect(frame.buffer).toBe(chunk.buffer);
    expect(Array.from(frame)).toEqual([5, 6]);
  });

  it('copies a frame that spans chunks of separate buffers', () => {
    const stream = encodeStream([Uint8Array.of(5, 6, 7)]);
    const parser = new FrameParser({ maxFrameSize: 100 });
    const cut = stream.length - 2;
    const first = stream.slice(0, cut);
    const second = stream.slice(cut);
    parser.push(first);
    parser.push(second);
    const [, event] = drain(parser);
    const frame = (event as { frame: Uint8Array }).frame;
    expect(Array.from(frame)).toEqual([5, 6, 7]);
    expect(frame.buffer).not.toBe(first.buffer);
    expect(frame.buffer).not.toBe(second.buffer);
    // A copy, not a view: changing the chunks afterwards does not change the frame.
    second.fill(0);
    expect(Array.from(frame)).toEqual([5, 6, 7]);
  });

  it("returns a frame spanning chunks that lie back to back in one buffer as a view (a ReadSlab's reads)", () => {
    const frame = Uint8Array.from({ length: 70_000 }, (_, i) => (i % 251) + 1);
    const stream = encodeStream([frame]);
    const parser = new FrameParser({ maxFrameSize: 70_000 });
    // Three reads, one after the other in the same buffer.
    for (const [from, to] of [
      [0, 30_000],
      [30_000, 60_000],
      [60_000, stream.length],
    ] as const) {
      parser.push(stream.subarray(from, to));
    }
    const [, event] = drain(parser);
    const got = (event as { frame: Uint8Array }).frame;
    expect(got.buffer).toBe(stream.buffer);
    expect(got.byteOffset).toBe(stream.length - frame.length);
    expect(Buffer.from(got).equals(frame)).toBe(true);
  });

  it('copies a frame whose chunks share a buffer but are not back to back', () => {
    const frame = Uint8Array.from({ length: 5_000 }, (_, i) => (i % 251) + 1);
    const stream = encodeStream([frame]);
    // The same bytes at two places of one buffer, with a gap between: chunk one, then chunk two.
    const backing = new Uint8Array(stream.length + 100);
    const cut = 2_000;
    backing.set(stream.subarray(0, cut), 0);
    backing.set(stream.subarray(cut), cut + 100);
    const parser = new FrameParser({ maxFrameSize: 5_000 });
    parser.push(backing.subarray(0, cut));
    parser.push(backing.subarray(cut + 100));
    const [, event] = drain(parser);
    const got = (event as { frame: Uint8Array }).frame;
    expect(got.buffer).not.toBe(backing.buffer);
    expect(Buffer.from(got).equals(frame)).toBe(true);
  });

  it('copies a frame that would pin a buffer over 64 KiB and over 8 times its size', () => {
    const small = Uint8Array.from({ length: 1_000 }, (_, i) => (i % 251) + 1);
    const large = Uint8Array.from({ length: 40_000 }, (_, i) => (i % 241) + 1);
    const stream = encodeStream([small, large]);
    // One large buffer, as a 256 KiB ReadSlab is, holding both frames.
    const backing = new Uint8Array(256 * 1024);
    backing.set(stream);
    const parser = new FrameParser({ maxFrameSize: 40_000 });
    parser.push(backing.subarray(0, stream.length));
    const [, first, second] = drain(parser);
    const gotSmall = (first as { frame: Uint8Array }).frame;
    const gotLarge = (second as { frame: Uint8Array }).frame;
    expect(Buffer.from(gotSmall).equals(small)).toBe(true);
    expect(Buffer.from(gotLarge).equals(large)).toBe(true);
    // 1,000 bytes may not hold 256 KiB; 40,000 bytes (over 1/8 of it) may.
    expect(gotSmall.buffer).not.toBe(backing.buffer);
    expect(gotSmall.buffer.byteLength).toBeLessThanOrEqual(8 * 1024);
    expect(gotLarge.buffer).toBe(backing.buffer);
  });

  it.each([[1], [7], [1000], [4095], [16_384], [65_535]])(
    'reassembles 64 KiB frames cut into chunks of %d bytes into copies equal to the originals',
    (size) => {
      // No zero byte in the frames: the copy is made into memory that is not zero-filled, so a byte it
      // failed to write would show as whatever was there (zero on a fresh page) instead of the original.
      const frames = [65_536, 65_537, 3, 70_000].map((length, f) =>
        Uint8Array.from({ length }, (_, i) => ((i * 7 + f) % 255) + 1),
      );
      const stream = encodeStream(frames);
      const parser = new FrameParser({ maxFrameSize: 70_000 });
      const events: FrameEvent[] = [];
      let spanned = 0;
      for (let at = 0; at < stream.length; at += size) {
        parser.push(stream.slice(at, at + size)); // a copy per chunk, as off a socket
        for (const event of drain(parser)) {
          events.push(event);
          if (event.kind === 'frame' && event.frame.byteLength === event.frame.buffer.byteLength) spanned++;
        }
      }
      expect(events.map((event) => event.kind)).toEqual(['preamble', 'frame', 'frame', 'frame', 'frame']);
      const got = events.slice(1).map((event) => (event as { frame: Uint8Array }).frame);
      // Byte for byte (Buffer.equals: toEqual on 200 KB takes seconds).
      expect(got.map((frame, i) => Buffer.from(frame).equals(frames[i]!))).toEqual([true, true, true, true]);
      expect(got.some((frame) => Buffer.isBuffer(frame))).toBe(false);
      expect(spanned).toBeGreaterThanOrEqual(3); // the three large frames span chunks at every size
      expect(parser.inProgress).toBe(false);
    },
  );

  it('can skip the preamble', () => {
    const parser = new FrameParser({ maxFrameSize: 100, expectPreamble: false });
    parser.push(concat(frameHeader(1), Uint8Array.of(4)));
    expect(drain(parser)).toEqual([{ kind: 'frame', frame: Uint8Array.of(4) }]);
  });

  it('rejects a maximum outside 0..2^32-1', () => {
    for (const maxFrameSize of [-1, 2 ** 32, 1.5]) {
      expect(() => new FrameParser({ maxFrameSize })).toThrow(
        expect.objectContaining({ name: 'TransportError', code: 'INVALID_OPTION' }),
      );
    }
  });
});

describe('FrameParser: large frames that span buffers, as views (partsFrom)', () => {
  /** A stream of one frame of `size` bytes (after the preamble), cut at `cut`, each piece in its own buffer. */
  function split(size: number, cut: number): { body: Uint8Array; chunks: Uint8Array[] } {
    const body = Uint8Array.from({ length: size }, (_, i) => (i * 31) & 0xff);
    const stream = Buffer.concat([PREAMBLE, frameHeader(size), body]);
    return {
      body,
      chunks: [Uint8Array.from(stream.subarray(0, cut)), Uint8Array.from(stream.subarray(cut))],
    };
  }

  function frames(parser: FrameParser, chunks: Uint8Array[]): FrameEvent[] {
    const events: FrameEvent[] = [];
    for (const chunk of chunks) {
      parser.push(chunk);
      for (let event = parser.next(); event !== undefined; event = parser.next()) events.push(event);
    }
    return events.filter((event) => event.kind !== 'preamble');
  }

  it('hands out a frame of at least partsFrom bytes that spans buffers as views of them, not a copy', () => {
    const { body, chunks } = split(20_000, 9_000);
    const [event] = frames(new FrameParser({ maxFrameSize: 1 << 20, partsFrom: 16 * 1024 }), chunks);
    expect(event!.kind).toBe('parts');
    const { parts } = event as { parts: ByteParts };
    expect(parts.parts.map((part) => part.buffer)).toEqual([chunks[0]!.buffer, chunks[1]!.buffer]);
    expect(Buffer.from(parts.join()).equals(body)).toBe(true);
  });

  it('copies a smaller one, and any one without partsFrom', () => {
    const small = split(10_000, 5_000);
    const [a] = frames(new FrameParser({ maxFrameSize: 1 << 20, partsFrom: 16 * 1024 }), small.chunks);
    expect(a!.kind).toBe('frame');
    const large = split(20_000, 9_000);
    const [b] = frames(new FrameParser({ maxFrameSize: 1 << 20 }), large.chunks);
    expect(b!.kind).toBe('frame');
    expect(Buffer.from((b as { frame: Uint8Array }).frame).equals(large.body)).toBe(true);
  });

  it('copies one whose views would keep buffers over 8 times its size alive', () => {
    const { body, chunks } = split(20_000, 9_000);
    // The second piece is a view into a 1 MiB buffer (as a slab's region would be).
    const big = new Uint8Array(1 << 20);
    big.set(chunks[1]!);
    const [event] = frames(new FrameParser({ maxFrameSize: 1 << 20, partsFrom: 16 * 1024 }), [
      chunks[0]!,
      big.subarray(0, chunks[1]!.length),
    ]);
    expect(event!.kind).toBe('frame');
    expect(Buffer.from((event as { frame: Uint8Array }).frame).equals(body)).toBe(true);
  });
});
