/* global process, console */
// The browser build, `sealroute/browser`: dist/browser.js (tsc's output, so decorator metadata and all are a
// real compile) bundled by esbuild into dist/sealroute.browser.js, an ES module. The Node-only modules are
// replaced by their browser versions (`x.browser.js` beside `x.js`), `node:util` and `node:fs` by the shims in
// src/browser/, and Node's globals (Buffer, timers with unref, setImmediate, process) by src/browser/globals.
// It fails if any `node:` module is still reachable. Writes dist/sealroute.browser.meta.json (esbuild's
// metafile: every module in the bundle) and prints the size, gzipped, and the module count.
//
//   node tools/build-browser.mjs            (after `npm run build`, which runs it)
//   node tools/build-browser.mjs --modules  (also lists every module in the bundle)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// `--dist <dir>`: bundle tsc's output in another folder (test/browser builds its own, leaving dist/ alone).
const distFlag = process.argv.indexOf('--dist');
const dist = distFlag > 0 ? path.resolve(process.argv[distFlag + 1]) : path.join(root, 'dist');
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.error('sealroute: the browser build needs esbuild (a devDependency): run `npm ci` first.');
  process.exit(1);
}
if (!existsSync(path.join(dist, 'browser.js'))) {
  console.error('sealroute: dist/browser.js is missing: run `npm run build` (tsc) first.');
  process.exit(1);
}

/** Browser versions of Node-only modules, and the shims of the two node: modules src/ names. */
const browserSwaps = {
  name: 'sealroute-browser',
  setup(build) {
    build.onResolve({ filter: /^node:(util|fs)$/ }, (args) => ({
      path: path.join(root, 'src', 'browser', `node-${args.path.slice('node:'.length)}.ts`),
    }));
    build.onResolve({ filter: /^\.\.?\// }, (args) => {
      const resolved = path.resolve(args.resolveDir, args.path);
      const file = resolved.endsWith('.js') ? resolved : `${resolved}.js`;
      const swap = file.replace(/\.js$/, '.browser.js');
      if (file.startsWith(dist) && existsSync(swap)) return { path: swap };
      return undefined;
    });
  },
};

// tsc emits CommonJS; the bundle is an ES module with the entry's names as named exports. The names come
// from tsc's output itself (its `exports.X =` and `defineProperty(exports, "X"` lines), so none is forgotten.
const entrySource = readFileSync(path.join(dist, 'browser.js'), 'utf8');
const names = new Set();
for (const match of entrySource.matchAll(/Object\.defineProperty\(exports, "(\w+)"|exports\.(\w+) = /g)) {
  names.add(match[1] ?? match[2]);
}
names.delete('__esModule');
const entry = path.join(dist, 'browser.entry.mjs');
writeFileSync(
  entry,
  `import sealroute from './browser.js';\nexport const { ${[...names].sort().join(', ')} } = sealroute;\n`,
);

const outfile = path.join(dist, 'sealroute.browser.js');
const result = await esbuild.build({
  entryPoints: [entry],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  outfile,
  minify: true,
  sourcemap: true,
  metafile: true,
  legalComments: 'eof',
  // From the TypeScript source (an ES module, as esbuild's inject needs; no decorators in it).
  inject: [path.join(root, 'src', 'browser', 'globals.ts')],
  nodePaths: [path.join(root, 'node_modules')], // for a --dist outside the repository
  plugins: [browserSwaps],
  logLevel: 'warning',
});

const inputs = Object.keys(result.metafile.inputs).sort();
const nodeModules = inputs.filter((input) => /(^|\/)node:|^(fs|path|crypto|net|http|os)$/.test(input));
if (nodeModules.length > 0) {
  console.error(`sealroute: the browser bundle reaches Node modules: ${nodeModules.join(', ')}`);
  process.exit(1);
}
writeFileSync(path.join(dist, 'sealroute.browser.meta.json'), JSON.stringify(result.metafile));
const bytes = readFileSync(outfile);
const gzipped = gzipSync(bytes, { level: 9 }).length;
console.log(
  `${path.relative(root, outfile)}: ${(bytes.length / 1024).toFixed(0)} KiB, ${(gzipped / 1024).toFixed(0)} KiB gzipped, ${inputs.length} modules, no node: module`,
);
if (process.argv.includes('--modules')) for (const input of inputs) console.log(`  ${input}`);
