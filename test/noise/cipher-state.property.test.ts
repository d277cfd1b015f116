import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { cipherFunction, CipherState, MAX_PLAINTEXT_LENGTH, NoiseError } from '../../src/noise';

import { sodiumReady } from '../../src/crypto/sodium';
import { scaled } from '../helpers/slowdown';

// Slow work on a busy machine: a budget scaled by its measured slowdown.
jest.setTimeout(scaled(60_000));

beforeAll(async () => {
  await sodiumReady();
});

type MutationValue =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'truncate'; by: number }
  | { kind: 'append'; byte: number };

/**
 * Payloads of every size class: tiny, around the ChaChaPoly backend threshold, and up to the limit.
 * (`size: 'max'` matters: by default fast-check keeps arrays to a handful of elements.)
 */
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.uint8Array({ maxLength: 4096, size: 'max' }),
  fc.uint8Array({ maxLength: MAX_PLAINTEXT_LENGTH, size: 'max' }),
);

/** A change to a ciphertext: flip bits of one byte, cut the tail, or append a byte. */
const mutation: fc.Arbitrary<MutationValue> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), by: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('append' as const), byte: fc.integer({ min: 0, max: 255 }) }),
);

function mutate(ciphertext: Uint8Array, m: MutationValue): Uint8Array {
  switch (m.kind) {
    case 'flip': {
      const out = Uint8Array.from(ciphertext);
      out[m.at % out.length]! ^= m.mask;
      return out;
    }
    case 'truncate':
      return ciphertext.subarray(0, Math.max(0, ciphertext.length - m.by));
    case 'append': {
      const out = new Uint8Array(ciphertext.length + 1);
      out.set(ciphertext);
      out[ciphertext.length] = m.byte;
      return out;
    }
  }
}

describe.each(['ChaChaPoly', 'AESGCM'] as const)('CipherState (%s) properties', (name) => {
  const key = randomBytes(32);
  const send = new CipherState(cipherFunction(name), key);
  const receive = new CipherState(cipherFunction(name), key);

  it('round-trips any payload up to the limit and never accepts a mutated ciphertext', () => {
    fc.assert(
      fc.property(
        payload,
        fc.uint8Array({ maxLength: 64 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 2n }),
        mutation,
        (plaintext, ad, n, m) => {
          const ciphertext = send.encryptWithNonce(n, ad, plaintext);
          expect(ciphertext).toHaveLength(plaintext.length + 16);
          expect(Buffer.from(receive.decryptWithNonce(n, ad, ciphertext)).equals(plaintext)).toBe(true);

          const mutated = mutate(ciphertext, m);
          let caught: unknown;
          try {
            receive.decryptWithNonce(n, ad, mutated);
          } catch (error) {
            caught = error;
          }
          expect(caught).toBeInstanceOf(NoiseError);
          // Appending to a maximal message crosses the 65535-byte bound, caught before any decryption.
          const expected = mutated.length > 65535 ? 'MESSAGE_TOO_LARGE' : 'DECRYPT_FAILED';
          expect((caught as NoiseError).code).toBe(expected);
        },
      ),
      { numRuns: 150 },
    );
  });
});
