import { integerOption } from '../core/options';
import { NodeError } from './errors';

const POSITIVE = { min: 1, max: Number.MAX_SAFE_INTEGER } as const;

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

  /** `bytes` if it is a positive integer; otherwise `NodeError` `INVALID_OPTION`, naming the limit. */
  private static check(bytes: number, name: string): number {
    return integerOption(name, bytes, 0, POSITIVE, (message) => new NodeError('INVALID_OPTION', message));
  }
}
