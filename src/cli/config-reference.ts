/**
 * The configuration reference in docs/operations.md, generated from the schema (tools/config-reference.ts
 * writes it; test/cli/config.test.ts keeps the two equal).
 */
import type { z } from 'zod';
import { nodeConfigSchema } from './config-schema';

type Def = { typeName: string; [key: string]: unknown };
const defOf = (schema: z.ZodTypeAny): Def => schema._def as Def;

/** A short type name for the reference. */
function typeText(schema: z.ZodTypeAny): string {
  const def = defOf(schema);
  switch (def.typeName) {
    case 'ZodOptional':
    case 'ZodDefault':
    case 'ZodEffects':
      return typeText((def.innerType ?? def.schema) as z.ZodTypeAny);
    case 'ZodString':
      return 'string';
    case 'ZodEnum':
      return (def.values as string[]).map((v) => `\`${v}\``).join(' \\| ');
    case 'ZodArray':
      return `list of ${typeText(def.type as z.ZodTypeAny)}`;
    case 'ZodObject':
      return 'map';
    case 'ZodUnion':
      return (def.options as z.ZodTypeAny[]).map(typeText).join(' \\| ');
    default:
      return def.typeName.replace(/^Zod/, '').toLowerCase();
  }
}

function defaultText(schema: z.ZodTypeAny): string {
  const def = defOf(schema);
  if (def.typeName === 'ZodDefault') return `\`${JSON.stringify((def.defaultValue as () => unknown)())}\``;
  if (def.typeName === 'ZodOptional') return 'optional';
  return 'required';
}

/** The object schema inside wrappers and lists, if any. */
function objectInside(schema: z.ZodTypeAny): z.AnyZodObject | undefined {
  const def = defOf(schema);
  switch (def.typeName) {
    case 'ZodOptional':
    case 'ZodDefault':
    case 'ZodEffects':
      return objectInside((def.innerType ?? def.schema) as z.ZodTypeAny);
    case 'ZodArray':
      return objectInside(def.type as z.ZodTypeAny);
    case 'ZodObject':
      return schema as z.AnyZodObject;
    default:
      return undefined;
  }
}

/** The configuration reference as a Markdown table, generated from the schema. */
export function configReference(): string {
  const rows: string[] = ['| field | type | default | meaning |', '| --- | --- | --- | --- |'];
  const walk = (object: z.AnyZodObject, prefix: string): void => {
    for (const [key, field] of Object.entries(object.shape as Record<string, z.ZodTypeAny>)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const inner = objectInside(field);
      const isList = typeText(field).startsWith('list of');
      rows.push(
        `| \`${path}\` | ${typeText(field)} | ${defaultText(field)} | ${(field.description ?? '').replace(/\|/g, '\\|')} |`,
      );
      if (inner !== undefined) walk(inner, isList ? `${path}[]` : path);
    }
  };
  walk(nodeConfigSchema, '');
  return rows.join('\n');
}
