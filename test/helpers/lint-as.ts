import { execFile } from 'node:child_process';
import path from 'node:path';
import { scaled } from './slowdown';

const root = path.resolve(__dirname, '../..');
const eslintBin = path.join(root, 'node_modules/eslint/bin/eslint.js');

/** ESLint resolves the whole import graph for the cycle rule: seconds when idle, far more on a loaded box. */
export const LINT_BUDGET = scaled(60_000);

/** Lints `source` as if it were the file `file` of the repository; resolves with ESLint's exit code and output. */
export function lintAs(file: string, source: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [eslintBin, '--no-warn-ignored', '--stdin', '--stdin-filename', file],
      { cwd: root, timeout: LINT_BUDGET },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') return reject(error);
        resolve({ code: error === null ? 0 : Number(error.code), output: stdout + stderr });
      },
    );
    child.stdin?.end(source);
  });
}
