/**
 * The package as a user gets it: `npm pack` (which builds through `prepare`), the tarball installed into a
 * scratch application outside the repository, then programs run against the installed copy: CommonJS and
 * ES module JavaScript, TypeScript with decorators compiled both ways, and a Jest test of the application.
 */
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { scaled } from '../helpers/slowdown';

const REPO_ROOT = path.resolve(__dirname, '../..');
const FIXTURES = path.join(__dirname, 'fixtures');
// Packing builds the whole library, installing may compile cbor-extract's optional native addon: minutes on
// a busy 2-core machine, so every step has a generous budget of its own and the whole test a larger one.
const STEP_MS = 6 * 60_000;
jest.setTimeout(15 * 60_000);

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command in its own process group and resolves when it ends; after `STEP_MS` the whole group is
 * killed, so a hung npm or program fails the test instead of outliving it.
 */
function exec(command: string, args: readonly string[], cwd: string): Promise<Outcome> {
  // npm passes its own settings to scripts as npm_* variables; a nested npm must not inherit `npm test`'s.
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('npm_') || key === 'npm_config_cache' || key === 'npm_config_userconfig')
      env[key] = value;
  }
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${STEP_MS} ms]`;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, STEP_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${String(err)}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Like `exec`, but fails with everything the command printed when it does not exit 0. */
async function ok(command: string, args: readonly string[], cwd: string): Promise<string> {
  const outcome = await exec(command, args, cwd);
  if (outcome.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} (in ${cwd}) exited ${outcome.code}\n${outcome.stdout}\n${outcome.stderr}`,
    );
  }
  return outcome.stdout;
}

describe('the packed package', () => {
  let work: string;
  let app: string;
  let installed: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'sealroute-pack-'));
    app = path.join(work, 'app');
    await ok('npm', ['pack', '--silent', '--pack-destination', work], REPO_ROOT);
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
    if (tarball === undefined) throw new Error(`npm pack made no tarball in ${work}`);

    mkdirSync(app);
    writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify(
        {
          name: 'scratch-app',
          version: '1.0.0',
          private: true,
          jest: { testEnvironment: 'node', transform: {} },
        },
        null,
        2,
      ),
    );
    // --prefer-offline: the packages come from npm's cache when it has them (CI's `npm ci` filled it).
    await ok(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(work, tarball)],
      app,
    );
    installed = path.join(app, 'node_modules', 'sealroute');
    for (const [from, to] of [
      ['cjs-program.cjs', 'cjs-program.cjs'],
      ['esm-program.mjs', 'esm-program.mjs'],
      ['consumer.ts', 'consumer.ts'],
      ['consumer.mts', 'consumer.mts'],
      ['app-test.cjs', 'app.test.cjs'],
    ] as const) {
      copyFileSync(path.join(FIXTURES, from), path.join(app, to));
    }
  });

  afterAll(() => {
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('holds the build, its sources for the source maps, the licence and the changelog, and no tests', () => {
    const files = readdirSync(installed, { recursive: true, encoding: 'utf8' }).map((f) =>
      f.replace(/\\/g, '/'),
    );
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'LICENSE',
        'CHANGELOG.md',
        'README.md',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/index.js.map',
        'src/index.ts',
      ]),
    );
    expect(files.filter((f) => f.startsWith('test/') || f.endsWith('.test.ts'))).toEqual([]);
    // Every map's sources exist in the package, or their text is inside the map (the browser bundle embeds
    // its third-party sources), so a debugger or a stack trace finds the code.
    const maps = files.filter((f) => f.endsWith('.js.map') || f.endsWith('.d.ts.map'));
    expect(maps.length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources, sourcesContent } = JSON.parse(readFileSync(path.join(installed, map), 'utf8')) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      for (const [i, source] of sources.entries()) {
        if (typeof sourcesContent?.[i] === 'string') continue;
        const resolved = path.resolve(path.dirname(path.join(installed, map)), source);
        if (!files.includes(path.relative(installed, resolved).replace(/\\/g, '/')))
          missing.push(`${map}: ${source}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('runs a CommonJS program', async () => {
    expect(await ok(process.execPath, ['cjs-program.cjs'], app)).toContain('cjs: HELLO, SEALROUTE!');
  });

  it('runs an ES module program: named imports, two nodes over TCP, a secure channel', async () => {
    expect(await ok(process.execPath, ['esm-program.mjs'], app)).toContain('esm: echo: hi Bob from Bob');
  });

  it('type-checks and runs TypeScript with decorators, compiled to CommonJS and to ES modules', async () => {
    writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          outDir: 'build',
          // The app has no @types/node of its own: borrow the repository's.
          typeRoots: [path.join(REPO_ROOT, 'node_modules', '@types')],
          types: ['node'],
        },
        files: ['consumer.ts', 'consumer.mts'],
      }),
    );
    await ok(
      process.execPath,
      [path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'],
      app,
    );
    expect(await ok(process.execPath, ['build/consumer.js'], app)).toContain('ts-cjs: TYPED AND INJECTED');
    expect(await ok(process.execPath, ['build/consumer.mjs'], app)).toContain('ts-esm: TYPED AND INJECTED');
  });

  it('installs the sealroute command: npx sealroute --help prints the commands, the bin itself in under a second', async () => {
    const bin = path.join(app, 'node_modules', '.bin', 'sealroute');
    await ok(bin, ['--help'], app); // the first run reads the files from disk
    const started = Date.now();
    const help = await ok(bin, ['--help'], app);
    const binMs = Date.now() - started;
    const bareStarted = Date.now();
    await ok(process.execPath, ['-e', '0'], app);
    const bareMs = Date.now() - bareStarted;
    const npxStarted = Date.now();
    const viaNpx = await ok('npx', ['--no-install', 'sealroute', '--help'], app);
    const npxMs = Date.now() - npxStarted;
    process.stderr.write(
      `installed sealroute --help: ${binMs} ms; bare node: ${bareMs} ms; through npx: ${npxMs} ms\n`,
    );
    for (const text of [help, viaNpx]) {
      expect(text).toContain('sealroute identity');
      expect(text).toContain('sealroute node');
      expect(text).toContain('sealroute authority');
    }
    expect(binMs).toBeLessThan(scaled(1000));
  });

  it("passes the application's own Jest test", async () => {
    const jest = path.join(REPO_ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
    const outcome = await exec(process.execPath, [jest, '--ci', '--testMatch', '**/app.test.cjs'], app);
    expect(`${outcome.stderr}`).toMatch(/Tests:\s+2 passed, 2 total/);
    expect(outcome.code).toBe(0);
  });
});
