import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX, createNodeResolver } from 'eslint-plugin-import-x';

/**
 * The layers of src/ and what each may import (besides itself): ../shared/STYLE.md's table, enforced.
 * A lower layer never imports a higher one, and nothing in src/ imports the curated surface src/index.ts.
 */
const LAYERS = {
  core: [],
  crypto: ['core'],
  node: ['core'],
  // libsodium loading is in crypto/sodium.ts; a Noise static key may live in a vault (staticKeyFromVault).
  vault: ['crypto', 'core'],
  noise: ['crypto', 'vault', 'core'],
  identity: ['vault', 'crypto', 'core'],
  channel: ['identity', 'noise', 'vault', 'crypto', 'node', 'core'],
  transport: ['node', 'core'],
  services: ['channel', 'transport', 'identity', 'noise', 'vault', 'crypto', 'node', 'core'],
  // Hub federation on NATS: a service of hubs, beside services (docs/federation.md).
  federation: ['services', 'channel', 'transport', 'identity', 'noise', 'vault', 'crypto', 'node', 'core'],
  di: ['node', 'core'],
  // The `sealroute` command: only the public surface src/index.ts, like an application (see PUBLIC_SURFACE_ONLY).
  cli: [],
  // Stand-ins for Node's modules and globals in the browser bundle (tools/build-browser.mjs).
  browser: [],
};

/** Layers that import the curated surface src/index.ts and nothing else of ours. */
const PUBLIC_SURFACE_ONLY = new Set(['cli']);

/** One ESLint config per layer forbidding relative imports of any other layer it may not use. */
export const layerRules = Object.entries(LAYERS).map(([layer, allowed]) => {
  const forbidden = Object.keys(LAYERS).filter((other) => other !== layer && !allowed.includes(other));
  const patterns = [
    {
      // '../channel', '../../channel/x', ...: a relative import that climbs into a forbidden layer.
      regex: `^(\\.\\./)+(${[...forbidden, 'cli'].join('|')})(/|$)`,
      message: PUBLIC_SURFACE_ONLY.has(layer)
        ? `the ${layer} layer imports only the public surface (../index), like an application (see STYLE.md)`
        : `the ${layer} layer may import only ${allowed.join(', ') || 'nothing of ours'} (see STYLE.md)`,
    },
    ...(PUBLIC_SURFACE_ONLY.has(layer)
      ? []
      : [
          {
            regex: '^\\.\\.(/\\.\\.)*(/index)?/?$',
            message: 'src/ never imports the public surface src/index.ts',
          },
        ]),
  ];
  return {
    files: [`src/${layer}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns }] },
  };
});

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/results/', 'coverage/', 'docs/api/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...layerRules,
  {
    // No import cycle inside src/ (type-only imports excepted: they vanish at run time). A cycle within a
    // layer is as much a knot as one across layers, which the layer rules above already forbid.
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'] })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
);
