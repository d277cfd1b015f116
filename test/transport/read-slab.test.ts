import { ReadSlab } from '../../src/transport/tcp/read-slab';

/** A read of `count` bytes into the region the slab gives, as node:net's `onread` does. */
function read(slab: ReadSlab, count: number, fill: number): Uint8Array {
  const region = slab.region();
  expect(region.length).toBeGreaterThanOrEqual(count);
  region.fill(fill, 0, count);
  return slab.took(count);
}

describe('ReadSlab', () => {
  it('places reads back to back in one buffer while it has room', () => {
    const slab = new ReadSlab();
    const a = read(slab, 1_000, 1);
    const b = read(slab, 2_000, 2);
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteOffset).toBe(a.byteOffset + a.length);
    expect(a.every((byte) => byte === 1)).toBe(true);
    expect(b.every((byte) => byte === 2)).toBe(true);
  });

  it('never gives a region twice: bytes already read stay as they were', () => {
    const slab = new ReadSlab();
    const kept: { bytes: Uint8Array; fill: number }[] = [];
    // Enough reads of every size to go through several slabs, growing and not.
    for (let i = 0; i < 200; i++) {
      const size = [1, 700, 16_384, 40_000, 65_536][i % 5]!;
      kept.push({ bytes: read(slab, Math.min(size, slab.region().length), i % 256), fill: i % 256 });
    }
    for (const { bytes, fill } of kept) expect(bytes.every((byte) => byte === fill)).toBe(true);
  });

  it('starts a new buffer when under 16 KiB would be left for a read', () => {
    const slab = new ReadSlab();
    const first = read(slab, 64 * 1024 - 16 * 1024 + 1, 1); // leaves 16 KiB - 1 of the first 64 KiB
    const next = slab.region();
    expect(next.buffer).not.toBe(first.buffer);
  });

  it('doubles its buffers, up to 256 KiB, while reads fill all they are given, and not otherwise', () => {
    const slab = new ReadSlab();
    expect(slab.region().buffer.byteLength).toBe(64 * 1024);
    // Reads that never fill their region keep the size.
    for (let i = 0; i < 20; i++) read(slab, 10_000, 0);
    expect(slab.region().buffer.byteLength).toBe(64 * 1024);
    const sizes: number[] = [];
    for (let i = 0; i < 12; i++) {
      const region = slab.region();
      sizes.push(region.buffer.byteLength);
      read(slab, region.length, 0); // a full read
    }
    expect(Math.max(...sizes)).toBe(256 * 1024);
    expect(sizes.every((size) => [64, 128, 256].map((k) => k * 1024).includes(size))).toBe(true);
  });
});
