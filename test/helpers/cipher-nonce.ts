import type { CipherState } from '../../src/noise/cipher-state';

/**
 * SetNonce(n) for tests (no production code resumes a direction): puts the counter of `cs` at `n`, which
 * must be in 0..2^64-1, by writing its two uint32 halves. Tests that use it check the counter through the
 * public `nonce` getter, so a renamed field fails them rather than passing silently.
 */
export function setNonce(cs: CipherState, n: bigint): void {
  if (n < 0n || n >= 2n ** 64n) throw new RangeError(`a nonce is in 0..2^64-1, got ${n}`);
  const halves = cs as unknown as { hi: number; lo: number };
  halves.hi = Number(n >> 32n);
  halves.lo = Number(n & 0xffff_ffffn);
  if (cs.nonce !== n) throw new Error('CipherState no longer keeps its nonce in hi/lo: update setNonce');
}
