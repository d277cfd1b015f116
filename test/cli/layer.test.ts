import { execFile } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const eslintBin = path.join(root, 'node_modules/eslint/bin/eslint.js');

/** Lints `source` as if it were the file `file` of the repository. */
function lint(file: string, source: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [eslintBin, '--no-warn-ignored', '--stdin', '--stdin-filename', file],
      { cwd: root, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') return reject(error);
        resolve({ code: error === null ? 0 : Number(error.code), output: stdout + stderr });
      },
    );
    child.stdin?.end(source);
  });
}

describe('the cli layer (eslint.config.mjs)', () => {
  it('imports the public surface, like an application', async () => {
    const result = await lint(
      'src/cli/commands/ok.ts',
      "import { route } from '../../index';\nexport const r = route;\n",
    );
    expect(result).toEqual({ code: 0, output: '' });
  });

  it('may not reach into another layer', async () => {
    const result = await lint(
      'src/cli/inside.ts',
      "import { nodeMetrics } from '../node/metrics';\nexport const m = nodeMetrics;\n",
    );
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/the cli layer imports only the public surface/);
  });

  it('is not imported by the library', async () => {
    const result = await lint(
      'src/services/x.ts',
      "import { parser } from '../cli/main';\nexport const p = parser;\n",
    );
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/the services layer may import only/);
  });
});
