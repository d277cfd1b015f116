/**
 * One check for the numeric options of every layer, so that a bad value fails where it is given (at
 * construction) with a message that names the option and the allowed range, instead of misbehaving later.
 */

/** The largest delay Node's timers accept (2^31 - 1 ms); a longer one fires at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/** An inclusive integer range. */
export interface IntegerRange {
  readonly min: number;
  readonly max: number;
}

/**
 * `value` when it is an integer in `range`, `fallback` when it is undefined; otherwise throws what `fail`
 * makes of a message such as "NodeOptions.mailboxCapacity must be an integer in 1..1073741824, got -5".
 */
export function integerOption(
  option: string,
  value: unknown,
  fallback: number,
  range: IntegerRange,
  fail: (message: string) => Error,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max) {
    throw fail(`${option} must be an integer in ${range.min}..${range.max}, got ${String(value)}`);
  }
  return value;
}
