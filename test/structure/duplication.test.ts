import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const jscpdBin = path.join(root, 'node_modules/jscpd/run-jscpd.js');

/** Runs jscpd (with the repository's .jscpd.json) on `target`; resolves with its exit code and output. */
function jscpd(target: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [jscpdBin, target],
      { cwd: root, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') return reject(error);
        resolve({ code: error === null ? 0 : Number(error.code), output: stdout + stderr });
      },
    );
  });
}

const BLOCK = `export function concat(parts: readonly Uint8Array[]): Uint8Array {
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
`;

describe('the duplication check (.jscpd.json: no block of 6+ lines and 50+ tokens repeated)', () => {
  it('fails on a block repeated in two files', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jscpd-'));
    try {
      writeFileSync(path.join(dir, 'a.ts'), BLOCK);
      writeFileSync(path.join(dir, 'b.ts'), BLOCK.replace('concat', 'join'));
      const result = await jscpd(dir);
      expect(result.code).toBe(1);
      expect(result.output).toMatch(/Found 1 clones/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds no repeated block in src/', async () => {
    const result = await jscpd('src');
    expect(result.output).toMatch(/Found 0 clones/);
    expect(result.code).toBe(0);
  });
});
