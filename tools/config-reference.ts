/**
 * Writes the node configuration reference, generated from the schema in src/cli/config-schema.ts, between the
 * markers of docs/operations.md. Run: npx ts-node tools/config-reference.ts (test/cli/config.test.ts fails
 * when the document and the schema disagree).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configReference } from '../src/cli/config-reference';

const file = join(resolve(__dirname, '..'), 'docs', 'operations.md');
const text = readFileSync(file, 'utf8');
const updated = text.replace(
  /(<!-- config-reference:start -->\n)[\s\S]*?(\n<!-- config-reference:end -->)/,
  (_all, start: string, end: string) => `${start}${configReference()}${end}`,
);
if (updated === text && !text.includes('<!-- config-reference:start -->')) {
  throw new Error(`${file} has no config-reference markers`);
}
writeFileSync(file, updated);
console.log(`updated ${file}`);
