import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const src = path.resolve(__dirname, '../../src');

/** The most lines a file in src/ may have: past it, a file holds more than one responsibility. */
const MAX_LINES = 350;

/** Every .ts file under `dir`, as paths relative to src/ with forward slashes. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') ? [path.relative(src, full).split(path.sep).join('/')] : [];
  });
}

/** Lines as `wc -l` counts them (newline characters). */
function lineCount(file: string): number {
  const text = readFileSync(path.join(src, file), 'utf8');
  let lines = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines++;
  return lines;
}

describe('the size of source files', () => {
  const sizes = sources(src).map((file) => ({ file, lines: lineCount(file) }));

  it(`keeps every file in src/ under ${MAX_LINES} lines`, () => {
    const tooLong = sizes
      .filter(({ lines }) => lines >= MAX_LINES)
      .map(({ file, lines }) => `${file}: ${lines} lines`);
    expect(tooLong).toEqual([]);
  });
});
