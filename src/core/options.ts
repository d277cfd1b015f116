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

/** One integer option: its default and its inclusive range. */
export interface IntegerOptionSpec extends IntegerRange {
  readonly default: number;
}

/** One option that takes one of a few values (strings or booleans), with its default. */
export interface ChoiceOptionSpec<T extends string | boolean = string | boolean> {
  readonly default: T;
  readonly oneOf: readonly T[];
}

/** The options of one component, each with its default and the values it may take. */
export type OptionSpecs = Readonly<Record<string, IntegerOptionSpec | ChoiceOptionSpec>>;

/** Every option of `specs` resolved: the given value, checked, or the default. */
export type ResolvedOptions<S extends OptionSpecs> = {
  readonly [K in keyof S]: S[K] extends ChoiceOptionSpec<infer T> ? T : number;
};

/**
 * The one way every layer resolves its options: each option of `specs` takes the value in `given` when one
 * is given, checked against its range or list (an option given as `undefined` keeps its default, as if it
 * were left out), and its default otherwise. A value out of range throws what `fail` makes of a message
 * that names `owner.option` and what it may be.
 */
export function resolveOptions<S extends OptionSpecs>(
  owner: string,
  specs: S,
  given: { readonly [K in keyof S]?: unknown } | undefined,
  fail: (message: string) => Error,
): ResolvedOptions<S> {
  const resolved: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value: unknown = given?.[name];
    if ('oneOf' in spec) {
      if (value !== undefined && !(spec.oneOf as readonly unknown[]).includes(value)) {
        const allowed = spec.oneOf.map((choice) => JSON.stringify(choice)).join(', ');
        throw fail(`${owner}.${name} must be one of ${allowed}, got ${JSON.stringify(value)}`);
      }
      resolved[name] = value ?? spec.default;
    } else {
      resolved[name] = integerOption(`${owner}.${name}`, value, spec.default, spec, fail);
    }
  }
  return resolved as ResolvedOptions<S>;
}
