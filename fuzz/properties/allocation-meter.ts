/**
 * Measures what a synchronous call allocates in proportion to a number it was given: the largest buffer or
 * array it asked for through `new Uint8Array(n)`, `new ArrayBuffer(n)`, `new Array(n)`, `Buffer.alloc*(n)`
 * (and the typed-array `from`/`of`), plus the growth of `arrayBuffers` memory as a backstop for anything
 * allocated another way. The constructors are swapped for recording proxies only while `run` executes (our
 * code and its dependencies look the globals up at call time), so `instanceof` and everything else behave as
 * usual. Views (`new Uint8Array(buffer, offset, length)`, `subarray`) allocate nothing and are not counted;
 * copies of existing bytes (`slice`) are bounded by the input and are not counted either.
 */

/** What one measured call allocated. */
export interface Allocations {
  /** The largest single request, in bytes (array slots count 8 bytes each). */
  readonly largest: number;
  /** Growth of `process.memoryUsage().arrayBuffers` across the call, in bytes (may be negative after a GC). */
  readonly arrayBuffersGrowth: number;
}

type Patchable = 'Uint8Array' | 'ArrayBuffer' | 'Array';

/** Runs `run` and reports its allocations along with its result or error (which it does not rethrow). */
export function measureAllocations(run: () => unknown): Allocations & { readonly error?: unknown } {
  let largest = 0;
  const note = (bytes: unknown): void => {
    if (typeof bytes === 'number' && Number.isFinite(bytes) && bytes > largest) largest = bytes;
  };
  const g = globalThis as unknown as Record<Patchable, unknown>;
  const saved = { Uint8Array: g.Uint8Array, ArrayBuffer: g.ArrayBuffer, Array: g.Array };
  const buffer = Buffer as unknown as Record<
    'alloc' | 'allocUnsafe' | 'allocUnsafeSlow',
    (n: number) => Buffer
  >;
  const savedBuffer = {
    alloc: buffer.alloc,
    allocUnsafe: buffer.allocUnsafe,
    allocUnsafeSlow: buffer.allocUnsafeSlow,
  };
  const recording = <C extends new (...a: unknown[]) => object>(
    target: C,
    size: (args: unknown[]) => unknown,
  ): C =>
    new Proxy(target, {
      construct(t, args, newTarget) {
        note(size(args));
        return Reflect.construct(t, args, newTarget) as object;
      },
    });
  const firstNumber = (args: unknown[]): unknown => (typeof args[0] === 'number' ? args[0] : undefined);
  const lengthOf = (args: unknown[]): unknown => {
    if (typeof args[0] === 'number') return args[0];
    const source = args[0] as { length?: unknown } | undefined;
    // A copy of an array-like or iterable: bounded by what already exists, but count it.
    return args.length === 1 && typeof source?.length === 'number' ? source.length : undefined;
  };
  const u8 = recording(saved.Uint8Array as new (...a: unknown[]) => object, lengthOf);
  const ab = recording(saved.ArrayBuffer as new (...a: unknown[]) => object, firstNumber);
  const arr = recording(saved.Array as new (...a: unknown[]) => object, (args) =>
    args.length === 1 && typeof args[0] === 'number' ? args[0] * 8 : undefined,
  );

  const before = process.memoryUsage().arrayBuffers;
  let error: unknown;
  g.Uint8Array = u8;
  g.ArrayBuffer = ab;
  g.Array = arr;
  buffer.alloc = (n: number, ...rest: unknown[]) => {
    note(n);
    return (savedBuffer.alloc as (...a: unknown[]) => Buffer).call(Buffer, n, ...rest);
  };
  buffer.allocUnsafe = (n: number) => {
    note(n);
    return savedBuffer.allocUnsafe.call(Buffer, n);
  };
  buffer.allocUnsafeSlow = (n: number) => {
    note(n);
    return savedBuffer.allocUnsafeSlow.call(Buffer, n);
  };
  try {
    run();
  } catch (caught) {
    error = caught;
  } finally {
    g.Uint8Array = saved.Uint8Array;
    g.ArrayBuffer = saved.ArrayBuffer;
    g.Array = saved.Array;
    buffer.alloc = savedBuffer.alloc;
    buffer.allocUnsafe = savedBuffer.allocUnsafe;
    buffer.allocUnsafeSlow = savedBuffer.allocUnsafeSlow;
  }
  const arrayBuffersGrowth = process.memoryUsage().arrayBuffers - before;
  return { largest, arrayBuffersGrowth, error };
}

/**
 * The slack any measured call may allocate beyond the bytes it was given: fixed-size scratch buffers (the
 * frame parser's 16 KiB coalescing tail, a decoder's small tables). A decoder that allocates for a declared
 * length it has not verified against the bytes present asks for megabytes in these properties, far above it.
 */
export const ALLOCATION_SLACK = 64 * 1024;
