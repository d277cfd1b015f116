/** What a replay window says about a nonce. */
export type ReplayVerdict = 'fresh' | 'replayed' | 'too-old';

/**
 * A sliding window over received nonces (RFC 4303 section 3.4.3 style): a bitmap of the last `size` nonces
 * up to the highest seen. A nonce above the highest is fresh; one inside the window is fresh unless its bit
 * is set; one below the window is too old. So frames may arrive reordered by up to `size - 1` positions and
 * are delivered in arrival order, while a duplicate is never delivered twice.
 *
 * `check` only looks; `mark` records, and is called only after the frame authenticated, so a forged frame
 * cannot move the window.
 */
export class ReplayWindow {
  private readonly bits: Uint32Array;
  private highest = -1;

  constructor(readonly size: number) {
    this.bits = new Uint32Array(Math.ceil(size / 32));
  }

  check(n: number): ReplayVerdict {
    if (n > this.highest) return 'fresh';
    if (this.highest - n >= this.size) return 'too-old';
    const bit = n % this.size;
    return (this.bits[bit >>> 5]! & (1 << (bit & 31))) === 0 ? 'fresh' : 'replayed';
  }

  /** Records `n`, which `check` said is fresh and which authenticated. */
  mark(n: number): void {
    if (n > this.highest) {
      const advance = n - this.highest;
      if (advance >= this.size) {
        this.bits.fill(0);
      } else {
        // Forget the nonces that slide out: their slots now stand for highest+1 .. n.
        for (let k = this.highest + 1; k < n; k++) this.clear(k % this.size);
      }
      this.highest = n;
    }
    const bit = n % this.size;
    this.bits[bit >>> 5]! |= 1 << (bit & 31);
  }

  private clear(bit: number): void {
    this.bits[bit >>> 5]! &= ~(1 << (bit & 31));
  }
}
