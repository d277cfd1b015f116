import fc from 'fast-check';
import { SealrouteError } from '../../src/core/errors';

/**
 * One fuzz property: a fast-check property over one decoder, with the number of cases a full `npm run fuzz`
 * gives it. The CLI (`fuzz/run.ts`) and Jest (`test/fuzz`) run the very same properties, with more or fewer
 * cases.
 */
export interface FuzzProperty {
  /** `area/decoder/what`, e.g. `core/wire/mutated`. */
  readonly name: string;
  /** Cases in a full run of `npm run fuzz` (before `--cases` scales them). */
  readonly runs: number;
  /** Cases in the Jest sample: a few hundred to a few thousand, so the whole file stays fast. */
  readonly sample: number;
  /** Runs the property; never throws for a failing case, the details say (`failed`, counterexample, seed). */
  check(options: CheckOptions): Promise<fc.RunDetails<unknown>>;
}

/** How one `FuzzProperty.check` runs. */
export interface CheckOptions {
  readonly numRuns: number;
  readonly seed?: number;
  /** A counterexample path from a failure report, with its seed: replays that very case. */
  readonly path?: string;
  /** Stop (without failing) after this many ms; the details then say how many cases ran. */
  readonly timeLimitMs?: number;
}

/** Declares a property; `build` may do async set-up (libsodium, keys) and runs once per `check`. */
export function defineProperty<Ts>(
  name: string,
  runs: number,
  sample: number,
  build: () => Built<Ts> | Promise<Built<Ts>>,
): FuzzProperty {
  return {
    name,
    runs,
    sample,
    async check(options) {
      const built = await build();
      // Every case starts with a tick of the tracer, so the CLI's watchdog can tell a stuck case from a slow shard.
      const property = built.isAsync()
        ? (built as fc.IAsyncPropertyWithHooks<Ts>).beforeEach(async (previous) => {
            startCase();
            await previous();
          })
        : (built as fc.IPropertyWithHooks<Ts>).beforeEach((previous) => {
            startCase();
            previous();
          });
      const details = await fc.check(property as fc.IRawProperty<Ts>, {
        numRuns: options.numRuns,
        seed: options.seed,
        path: options.path,
        interruptAfterTimeLimit: options.timeLimitMs,
        markInterruptAsFailure: false,
        // Replaying a path must run exactly that case.
        endOnFailure: options.path !== undefined,
      });
      return details as fc.RunDetails<unknown>;
    },
  };
}

/** What a property's `build` returns: `fc.property(...)` or `fc.asyncProperty(...)`. */
export type Built<Ts> = fc.IPropertyWithHooks<Ts> | fc.IAsyncPropertyWithHooks<Ts>;

/** The typed errors a decoder may throw for bad input: its class's `name` and the allowed `code`s. */
export interface Refusal {
  readonly name: string;
  readonly codes: readonly string[];
}

/** Why a property failed: thrown inside a predicate, so fast-check reports and shrinks the case. */
export class PropertyFailure extends Error {
  override readonly name = 'PropertyFailure';
}

/** Fails the case unless `condition` holds. */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new PropertyFailure(message);
}

/**
 * Any single case that takes longer than this fails. Nothing here legitimately takes more than a few ms; the
 * bound is loose because CI machines pause (GC, other processes), and tight enough to catch a decoder that
 * does work in proportion to a length field or loops.
 */
export const CASE_TIME_LIMIT_MS = 1000 * testSlowdown();

/**
 * Under Jest, the machine's measured slowdown (test/helpers/slowdown.ts hands it over in
 * `SEALROUTE_TEST_SLOWDOWN`): a busy shared machine stretches a case's wall-clock time, not its work.
 * `npm run fuzz` does not set it and keeps the plain limit.
 */
function testSlowdown(): number {
  const factor = Number(process.env.SEALROUTE_TEST_SLOWDOWN);
  return Number.isFinite(factor) && factor > 1 ? Math.min(factor, 8) : 1;
}

/** What decoding one input gave: a value, or one of the documented typed errors. */
export type Outcome<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: SealrouteError };

/**
 * Runs `decode` on one input and classifies the result: a value, or an error that must be a `SealrouteError`
 * with the refusal's `name` and one of its codes. Anything else (a TypeError, a RangeError, a plain Error
 * from a dependency, a wrong code) fails the case, and so does a case over `CASE_TIME_LIMIT_MS`.
 */
export function decodeOrRefuse<T>(refusal: Refusal, decode: () => T): Outcome<T> {
  const started = performance.now();
  let outcome: Outcome<T>;
  try {
    outcome = { ok: true, value: decode() };
  } catch (error) {
    outcome = { ok: false, error: expectRefusal(refusal, error) };
  }
  checkTime(started);
  return outcome;
}

/** `decodeOrRefuse` for async decoders, with the same time bound enforced by a timer. */
export async function decodeOrRefuseAsync<T>(
  refusal: Refusal,
  decode: () => Promise<T>,
): Promise<Outcome<T>> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new PropertyFailure(`no answer within ${CASE_TIME_LIMIT_MS} ms`)),
      CASE_TIME_LIMIT_MS,
    );
  });
  try {
    const value = await Promise.race([decode(), timeout]);
    return { ok: true, value };
  } catch (error) {
    if (error instanceof PropertyFailure) throw error;
    return { ok: false, error: expectRefusal(refusal, error) };
  } finally {
    clearTimeout(timer);
    checkTime(started);
  }
}

/** The error as a `SealrouteError` of the refusal's kind; fails the case for anything else. */
export function expectRefusal(refusal: Refusal, error: unknown): SealrouteError {
  if (error instanceof PropertyFailure) throw error;
  if (!(error instanceof SealrouteError)) {
    throw new PropertyFailure(`expected a ${refusal.name}, got ${describe(error)}`);
  }
  if (error.name !== refusal.name || !refusal.codes.includes(error.code)) {
    throw new PropertyFailure(
      `expected a ${refusal.name} with code ${refusal.codes.join('|')}, got ${error.name} ${error.code}: ${error.message}`,
    );
  }
  return error;
}

function checkTime(started: number): void {
  const elapsed = performance.now() - started;
  check(
    elapsed <= CASE_TIME_LIMIT_MS,
    `one case took ${elapsed.toFixed(0)} ms (limit ${CASE_TIME_LIMIT_MS})`,
  );
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `a thrown ${typeof error}: ${String(error)}`;
}

/** Byte-wise equality. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * `length` bytes from a seed (xorshift): large inputs (64 KiB frames, 1 MiB bodies) without fast-check
 * generating, shrinking and recording each byte.
 */
export function fillerBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Short hex of bytes, for failure messages. */
export function hex(bytes: Uint8Array, max = 64): string {
  const shown = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, max)).toString('hex');
  return bytes.length > max ? `${shown}... (${bytes.length} bytes)` : shown;
}

// --- case tracing for the hang watchdog ------------------------------------------------------------------

/** Where the CLI's worker threads record the case in progress (see `fuzz/worker.ts`); unset under Jest. */
export interface CaseTracer {
  /** A case starts (its input is not known yet). */
  start(): void;
  /** The case's input bytes. */
  input(bytes: Uint8Array): void;
}
let tracer: CaseTracer | undefined;

/** Installs the recorder `traceCase` calls (the fuzz worker does; Jest does not). */
export function setCaseTracer(recorder: CaseTracer | undefined): void {
  tracer = recorder;
}

function startCase(): void {
  tracer?.start();
}

/**
 * Notes that a case starts, with its input bytes when it has some: if a decoder never returns, the CLI's
 * watchdog prints the property, the seed and these bytes. Costs nothing when no tracer is installed.
 */
export function traceCase(input: Uint8Array): void {
  tracer?.input(input);
}
