/**
 * Folders of this repository transpiled once to JavaScript in a temporary directory, for the child processes
 * of the benchmarks and the reliability programs. Under ts-node every child would compile src/ again
 * (seconds of a busy 2-core machine each) and carry the TypeScript compiler in the heap it measures; this is
 * the same per-file transpilation ts-node's transpile-only mode does, with the repository's compiler options.
 * Children resolve packages from the repository's node_modules through NODE_PATH (see `childEnv`).
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** The repository's root folder. */
export const REPO_ROOT = resolve(__dirname, '..');

const made = new Map<string, string>();
process.once('exit', () => {
  for (const dir of made.values()) rmSync(dir, { recursive: true, force: true });
});

function* typescriptFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'results')
      yield* typescriptFiles(path);
    else if (entry.isFile() && path.endsWith('.ts') && !path.endsWith('.d.ts')) yield path;
  }
}

/** Removes what earlier runs killed outright (no exit hook ran) left behind, once it is a day old. */
function removeStale(prefix: string): void {
  const dayAgo = Date.now() - 24 * 3_600_000;
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(prefix)) continue;
    const path = join(tmpdir(), name);
    try {
      if (statSync(path).mtimeMs < dayAgo) rmSync(path, { recursive: true, force: true });
    } catch {
      // another run's, being removed
    }
  }
}

function compilerOptions(): ts.CompilerOptions {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(REPO_ROOT, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  );
  // Inline source maps: a debugger finds the .ts; CPU profiles show JavaScript lines close to the .ts ones.
  return { ...config!.options, sourceMap: false, inlineSourceMap: true, inlineSources: true };
}

/**
 * The folders `tops` (relative to the repository) transpiled into a temporary directory whose name starts
 * with `prefix`; made once per process and removed when it exits. Returns the directory.
 */
export function transpiledTree(tops: readonly string[], prefix: string): string {
  const key = `${prefix}:${tops.join(',')}`;
  const existing = made.get(key);
  if (existing !== undefined) return existing;
  removeStale(prefix);
  const options = compilerOptions();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.set(key, dir);
  for (const top of tops) {
    for (const file of typescriptFiles(join(REPO_ROOT, top))) {
      const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
        compilerOptions: options,
        fileName: file,
      });
      const out = join(dir, relative(REPO_ROOT, file)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, outputText);
    }
  }
  return dir;
}

/** The environment of a child running transpiled code: packages resolve from the repository. */
export function childEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...process.env, NODE_PATH: join(REPO_ROOT, 'node_modules'), ...extra };
}
