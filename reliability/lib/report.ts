/** Printing for the reliability programs: aligned tables and named checks that decide the exit code. */

/** Prints rows as columns, the first row a header. */
export function printTable(rows: readonly (readonly string[])[]): void {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  for (const [index, row] of rows.entries()) {
    console.log(`  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')}`.trimEnd());
    if (index === 0) console.log(`  ${widths.map((width) => '-'.repeat(width)).join('  ')}`);
  }
}

/** Named pass/fail checks; the program fails if any check does. */
export class Checks {
  private failed = 0;

  /** Records and prints one check. */
  check(name: string, passed: boolean, detail: string): boolean {
    if (!passed) this.failed++;
    console.log(`  [${passed ? 'PASS' : 'FAIL'}] ${name}: ${detail}`);
    return passed;
  }

  get passed(): boolean {
    return this.failed === 0;
  }
}

/** A number with thousands separators. */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Milliseconds as seconds with one decimal. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Waits for `condition` (polled every `everyMs`) for at most `timeoutMs`; resolves with whether it held. */
export async function eventually(
  condition: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 250,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
