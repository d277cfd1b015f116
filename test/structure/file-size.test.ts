import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SRC, srcFiles } from './src-files';

/** The most lines a file in src/ may have: past it, a file holds more than one responsibility. */
const MAX_LINES = 350;

/** Lines as `wc -l` counts them (newline characters). */
function lineCount(file: string): number {
  const text = readFileSync(path.join(SRC, file), 'utf8');
  let lines = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines++;
  return lines;
}

describe('the size of source files', () => {
  const sizes = srcFiles().map((file) => ({ file, lines: lineCount(file) }));

  it(`keeps every file in src/ under ${MAX_LINES} lines`, () => {
    const tooLong = sizes
      .filter(({ lines }) => lines >= MAX_LINES)
      .map(({ file, lines }) => `${file}: ${lines} lines`);
    expect(tooLong).toEqual([]);
  });
});
