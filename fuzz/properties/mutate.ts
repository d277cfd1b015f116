import fc from 'fast-check';
import { concatBytes } from './support';

/**
 * Mutations of a valid encoding, the way a damaged link or a hostile peer changes bytes: flipped bits, bytes
 * set to boundary values, truncation, inserted/deleted/duplicated ranges, a tail spliced from another
 * encoding, and integers (big-endian u8/u16/u32/u64 or LEB128) written over whatever was there, which is how
 * a length field gets a huge or off-by-one value. Positions are arbitrary naturals taken modulo the length,
 * so a mutation stays meaningful (and shrinks) whatever the input it lands on.
 */
export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'duplicate'; readonly at: number; readonly length: number; readonly to: number }
  | { readonly kind: 'splice'; readonly at: number; readonly donor: Uint8Array; readonly from: number }
  | { readonly kind: 'integer'; readonly at: number; readonly width: 1 | 2 | 4 | 8; readonly value: number }
  | { readonly kind: 'varint'; readonly at: number; readonly value: number };

/** Values that sit on the boundaries decoders get wrong: sign bits, varint continuation, size limits. */
export const INTERESTING_INTEGERS: readonly number[] = [
  0,
  1,
  2,
  0x7f,
  0x80,
  0xff,
  0x100,
  0x3fff,
  0x4000,
  0xffff,
  0x10000,
  0xffffff,
  2 ** 28 - 1,
  2 ** 28,
  0x7fffffff,
  0x80000000,
  0xffffffff,
  2 ** 32,
  2 ** 53 - 1,
];

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

/** An integer to write over a field: mostly a boundary value, sometimes anything. */
export const interestingInteger: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...INTERESTING_INTEGERS) },
  { weight: 1, arbitrary: fc.nat() },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 53 - 1 }) },
);

/** One mutation; `donor` gives the bytes a splice takes its tail from (another valid encoding, or noise). */
export function mutationArb(
  donor: fc.Arbitrary<Uint8Array> = fc.uint8Array({ maxLength: 64 }),
): fc.Arbitrary<Mutation> {
  const at = fc.nat();
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at, bit: fc.nat({ max: 7 }) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('set' as const),
        at,
        value: fc.oneof(fc.constantFrom(...INTERESTING_BYTES), fc.nat({ max: 255 })),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('insert' as const),
        at,
        bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('delete' as const),
        at,
        length: fc.integer({ min: 1, max: 16 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('duplicate' as const),
        at,
        length: fc.integer({ min: 1, max: 32 }),
        to: fc.nat(),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('splice' as const), at, donor, from: fc.nat() }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('integer' as const),
        at,
        width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
        value: interestingInteger,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('varint' as const), at, value: interestingInteger }),
    },
  );
}

/** Applies one mutation to a copy of `bytes`. */
export function applyMutation(bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = bytes.length;
  const pos = (value: number, size: number): number => (size <= 0 ? 0 : value % size);
  switch (m.kind) {
    case 'flip': {
      if (n === 0) return bytes.slice();
      const out = bytes.slice();
      out[pos(m.at, n)]! ^= 1 << m.bit;
      return out;
    }
    case 'set': {
      if (n === 0) return Uint8Array.of(m.value);
      const out = bytes.slice();
      out[pos(m.at, n)] = m.value;
      return out;
    }
    case 'truncate':
      return bytes.slice(0, pos(m.at, n));
    case 'insert': {
      const at = pos(m.at, n + 1);
      return concatBytes([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
    }
    case 'delete': {
      const at = pos(m.at, n);
      return concatBytes([bytes.subarray(0, at), bytes.subarray(Math.min(n, at + m.length))]);
    }
    case 'duplicate': {
      const at = pos(m.at, n);
      const range = bytes.subarray(at, Math.min(n, at + m.length));
      const to = pos(m.to, n + 1);
      return concatBytes([bytes.subarray(0, to), range, bytes.subarray(to)]);
    }
    case 'splice': {
      const at = pos(m.at, n + 1);
      return concatBytes([bytes.subarray(0, at), m.donor.subarray(pos(m.from, m.donor.length + 1))]);
    }
    case 'integer':
      return writeOver(bytes, pos(m.at, n), bigEndian(m.value, m.width));
    case 'varint':
      return writeOver(bytes, pos(m.at, n), leb128(m.value));
  }
}

/** Applies mutations in order. */
export function applyMutations(bytes: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let out = bytes;
  for (const m of mutations) out = applyMutation(out, m);
  return out === bytes ? bytes.slice() : out;
}

/** A valid encoding, and a mutated copy of it (one to four mutations). */
export interface Mutated {
  readonly original: Uint8Array;
  readonly mutated: Uint8Array;
}

/**
 * Mutated copies of valid encodings from `valid`. Splices take their tail from another valid encoding or from
 * random bytes. fast-check shrinks the mutation list and the original together.
 */
export function mutatedArb(valid: fc.Arbitrary<Uint8Array>, maxMutations = 4): fc.Arbitrary<Mutated> {
  const donor = fc.oneof(valid, fc.uint8Array({ maxLength: 64 }));
  return fc
    .tuple(valid, fc.array(mutationArb(donor), { minLength: 1, maxLength: maxMutations }))
    .map(([original, mutations]) => ({ original, mutated: applyMutations(original, mutations) }));
}

/** Random bytes, mostly short, sometimes long: for decoders fed noise that was never a valid encoding. */
export const noiseArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 32 }) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 512, maxLength: 4096 }) },
);

function writeOver(bytes: Uint8Array, at: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.max(bytes.length, at + value.length));
  out.set(bytes);
  out.set(value, at);
  return out;
}

function bigEndian(value: number, width: 1 | 2 | 4 | 8): Uint8Array {
  const out = new Uint8Array(width);
  let v = value;
  for (let i = width - 1; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

/** Unsigned LEB128, as `core/wire.ts` writes it (but with no bound on the value). */
export function leb128(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}
