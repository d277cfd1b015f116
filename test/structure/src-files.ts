import { readdirSync } from 'node:fs';
import path from 'node:path';

/** The repository's src/ folder. */
export const SRC = path.resolve(__dirname, '../../src');

/** Every .ts file under src/ (or under `dir` inside it), as paths relative to src/ with forward slashes. */
export function srcFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return srcFiles(full);
    return entry.name.endsWith('.ts') ? [path.relative(SRC, full).split(path.sep).join('/')] : [];
  });
}
