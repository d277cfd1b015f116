import { LINT_BUDGET, lintAs } from '../helpers/lint-as';

// Each test runs ESLint over the import graph.
jest.setTimeout(LINT_BUDGET + 5_000);

describe('the layering rule (eslint.config.mjs)', () => {
  it('fails an upward import: core may not import channel', async () => {
    const result = await lintAs(
      'src/core/upward.ts',
      "import { x } from '../channel';\nexport const y = x;\n",
    );
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/the core layer may import only nothing of ours/);
  });

  it('fails an import of the public surface from inside src/', async () => {
    const result = await lintAs(
      'src/transport/tcp/surface.ts',
      "import { x } from '../..';\nexport const y = x;\n",
    );
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/never imports the public surface/);
  });

  it('fails an import cycle: node-runtime imports context, so context may not import node-runtime', async () => {
    // Linted as if it were src/node/context.ts, whose real neighbour node-runtime.ts imports it back.
    const result = await lintAs(
      'src/node/context.ts',
      "import { NodeRuntime } from './node-runtime';\nexport const n = NodeRuntime;\n",
    );
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/Dependency cycle detected.*import-x\/no-cycle/);
  });

  it('passes an import the table allows: channel may import node', async () => {
    const result = await lintAs('src/channel/ok.ts', "import { x } from '../node/x';\nexport const y = x;\n");
    expect(result).toEqual({ code: 0, output: '' });
  });
});
