import { LINT_BUDGET, lintAs } from '../helpers/lint-as';

// Each test runs ESLint over the import graph.
jest.setTimeout(LINT_BUDGET + 5_000);

describe('the cli layer (eslint.config.mjs)', () => {
  it('imports the public surface, like an application', async () => {
    const result = await lintAs(
      'src/cli/commands/ok.ts',
      "import { route } from '../../index';\nexport const r = route;\n",
    );
    expect(result).toEqual({ code: 0, output: '' });
  });

  it('may not reach into another layer', async () => {
    const result = await lintAs(
      'src/cli/inside.ts',
      "import { nodeMetrics } from '../node/metrics';\nexport const m = nodeMetrics;\n",
    );
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/the cli layer imports only the public surface/);
  });

  it('is not imported by the library', async () => {
    const result = await lintAs(
      'src/services/x.ts',
      "import { parser } from '../cli/main';\nexport const p = parser;\n",
    );
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/the services layer may import only/);
  });
});
