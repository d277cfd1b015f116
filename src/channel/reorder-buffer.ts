/** A run of nonces that will never be delivered: `from` to `to`, both included. */
export interface NonceGap {
  readonly from: number;
  readonly to: number;
}

/**
 * Puts authenticated frames back in sending order. Nonces are consecutive from 0, so the receiver knows the
 * next one it must deliver (`next`); a frame ahead of it is held here until the frames before it arrive.
 * Pure bookkeeping: the channel decides when a gap is given up (a timer, the window, a byte bound) and
 * calls `skipGap`, which reports the missing range instead of skipping it silently.
 */
export class ReorderBuffer {
  /** The nonce of the next frame to deliver. */
  next = 0;
  /** Bytes of the plaintexts held. */
  bytes = 0;
  /**
   * The frames held and when each arrived (ms), in arrival order. Created on the first early frame: most
   * channels never reorder, and thousands of idle channel ends should not each carry an empty table.
   */
  private held: Map<number, { readonly plaintext: Uint8Array; readonly at: number }> | undefined;

  /** Frames held. */
  get size(): number {
    return this.held?.size ?? 0;
  }

  /** Holds the plaintext of frame `n` (> next; not already held: the replay window saw to that). */
  hold(n: number, plaintext: Uint8Array, now: number): void {
    (this.held ??= new Map()).set(n, { plaintext, at: now });
    this.bytes += plaintext.length;
  }

  /** When the frame held longest arrived; undefined when nothing is held. */
  get earliestArrival(): number | undefined {
    // Arrival order is insertion order: the first entry is the earliest.
    if (this.held !== undefined) for (const { at } of this.held.values()) return at;
    return undefined;
  }

  /** The held plaintext of frame `next`, if it is here: it is removed and `next` moves past it. */
  take(): Uint8Array | undefined {
    const entry = this.held?.get(this.next);
    if (entry === undefined) return undefined;
    this.held!.delete(this.next);
    this.bytes -= entry.plaintext.length;
    this.next++;
    return entry.plaintext;
  }

  /**
   * Gives up the frames missing before the lowest held one: `next` moves to it and the missing range is
   * returned. Undefined when nothing is held.
   */
  skipGap(): NonceGap | undefined {
    if (this.held === undefined || this.held.size === 0) return undefined;
    let lowest = Infinity;
    for (const n of this.held.keys()) if (n < lowest) lowest = n;
    const gap = { from: this.next, to: lowest - 1 };
    this.next = lowest;
    return gap;
  }

  clear(): void {
    this.held = undefined;
    this.bytes = 0;
  }
}
