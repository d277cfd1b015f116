import { SLOWDOWN_ENV, measureSlowdown } from '../helpers/slowdown';

/**
 * Measures the machine's slowdown once for the whole run; Jest starts its workers after this, and they
 * inherit the environment (see test/helpers/slowdown.ts).
 */
export default function globalSetup(): void {
  if (process.env[SLOWDOWN_ENV] === undefined) process.env[SLOWDOWN_ENV] = measureSlowdown().toFixed(2);
  process.stderr.write(`test budgets scaled by ${process.env[SLOWDOWN_ENV]} (${SLOWDOWN_ENV})\n`);
}
