/**
 * A count of bytes held on behalf of peers, against a limit: shared by everything of one kind on a node
 * (the partial frames of every TCP connection, the messages every secure channel end holds back), so that
 * many small holders cannot add up to more than the node can afford. Plain bookkeeping: the holder charges
 * what it allocates, gives it back when it lets go, and decides whom to refuse when `wouldExceed` says so.
 */
export class ByteBudget {
  /** Bytes charged now. */
  used = 0;
  /** The most that was ever charged at once (for tests and stats). */
  peak = 0;
  /** Times a charge was refused or a holder was made to let go (counted by the holders). */
  exceeded = 0;
  private max: number;

  constructor(
    limit: number,
    /** What the limit is called in errors. */
    readonly name: string,
  ) {
    this.max = ByteBudget.check(limit, name);
  }

  /** The limit in bytes. */
  get limit(): number {
    return this.max;
  }

  /** Changes the limit (a positive integer); what is already charged stays charged. */
  set limit(bytes: number) {
    this.max = ByteBudget.check(bytes, this.name);
  }

  /** Whether charging `bytes` more would go over the limit. */
  wouldExceed(bytes: number): boolean {
    return this.used + bytes > this.max;
  }

  /** Charges `bytes` unconditionally (the caller checked, or will make room at once). */
  charge(bytes: number): void {
    this.used += bytes;
    if (this.used > this.peak) this.peak = this.used;
  }

  /** Gives back `bytes` charged before. */
  release(bytes: number): void {
    this.used -= bytes;
  }

  private static check(bytes: number, name: string): number {
    if (!Number.isSafeInteger(bytes) || bytes < 1) {
      throw new RangeError(`${name} must be a positive integer number of bytes, got ${bytes}`);
    }
    return bytes;
  }
}
