/* global process, console */
// `npm run build` (and `prepare`): a clean dist/ compiled by tsc from src/. A clone installed as a folder
// (`npm install ../sealroute`) is linked without its devDependencies, so TypeScript may be missing: say what to
// do instead of the shell's bare "tsc: not found".
import { rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let tsc;
try {
  tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  console.error(
    [
      `sealroute: cannot build ${root}: TypeScript is not installed there.`,
      'A folder dependency is linked without its devDependencies. Either run `npm ci` in that folder first,',
      'or install from git (`npm install git+file://<path>`, which installs them and builds),',
      'or from a tarball made with `npm pack`.',
    ].join('\n'),
  );
  process.exit(1);
}
rmSync(path.join(root, 'dist'), { recursive: true, force: true });
const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
