import { execFile } from 'node:child_process';
import path from 'node:path';
import { scaled } from '../helpers/slowdown';

const root = path.resolve(__dirname, '../..');
/** ESLint resolves the whole import graph for the cycle rule: seconds when idle, far more on a loaded box. */
const LINT_BUDGET = scaled(60_000);
jest.setTimeout(LINT_BUDGET + 5_000);

const eslintBin = path.join(root, 'node_modules/eslint/bin/eslint.js');

/** Lints `source` as if it were the file `file` of the repository; resolves with ESLint's exit code and output. */
function lint(file: string, source: string): Promise<{ code: number; output: string }> {
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

describe('the layering rule (eslint.config.mjs)', () => {
  it('fails an upward import: core may not import channel', async () => {
    const result = await lint('src/core/upward.ts', "import { x } from '../channel';\nexport const y = x;\n");
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/the core layer may import only nothing of ours/);
  });

  it('fails an import of the public surface from inside src/', async () => {
    const result = await lint(
      'src/transport/tcp/surface.ts',
      "import { x } from '../..';\nexport const y = x;\n",
    );
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/never imports the public surface/);
  });

  it('fails an import cycle: node-runtime imports context, so context may not import node-runtime', async () => {
    // Linted as if it were src/node/context.ts, whose real neighbour node-runtime.ts imports it back.
    const result = await lint(
      'src/node/context.ts',
      "import { NodeRuntime } from './node-runtime';\nexport const n = NodeRuntime;\n",
    );
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/Dependency cycle detected.*import-x\/no-cycle/);
  });

  it('passes an import the table allows: channel may import node', async () => {
    const result = await lint('src/channel/ok.ts', "import { x } from '../node/x';\nexport const y = x;\n");
    expect(result).toEqual({ code: 0, output: '' });
  });
});
