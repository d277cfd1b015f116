/**
 * What the heap holds, counted by kind of object: a V8 heap snapshot reduced to `{ count, bytes }` per
 * constructor name (or node type for arrays, strings, closures and V8 internals). Two censuses taken around
 * an operation, diffed, show where the memory it kept went, without a heap-snapshot viewer.
 */
import { getHeapSnapshot } from 'node:v8';

/** Objects of one kind: how many, and their shallow size in bytes. */
export interface CensusEntry {
  count: number;
  bytes: number;
}

/** Objects by kind. */
export type Census = Map<string, CensusEntry>;

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Takes a heap snapshot (the caller collects garbage first if it wants live objects only) and counts it. */
export async function heapCensus(): Promise<Census> {
  const chunks: Buffer[] = [];
  for await (const chunk of getHeapSnapshot()) chunks.push(chunk as Buffer);
  const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Snapshot;
  chunks.length = 0;
  const fields = parsed.snapshot.meta.node_fields;
  const types = parsed.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const census: Census = new Map();
  const { nodes, strings } = parsed;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]!]!;
    const name = strings[nodes[i + nameAt]!]!;
    const key =
      type === 'object' || type === 'native'
        ? name
        : type === 'closure'
          ? `(closure ${name || 'anonymous'})`
          : type === 'hidden' || type === 'array' || type === 'code'
            ? `(${type} ${name.slice(0, 40)})`
            : `(${type})`;
    const entry = census.get(key);
    const bytes = nodes[i + sizeAt]!;
    if (entry === undefined) census.set(key, { count: 1, bytes });
    else {
      entry.count++;
      entry.bytes += bytes;
    }
  }
  return census;
}

/** One kind's growth between two censuses. */
export interface CensusGrowth extends CensusEntry {
  readonly kind: string;
}

/** What grew from `before` to `after`, largest first: the `top` kinds by bytes. */
export function censusGrowth(before: Census, after: Census, top = 15): CensusGrowth[] {
  const growth: CensusGrowth[] = [];
  for (const [kind, entry] of after) {
    const was = before.get(kind) ?? { count: 0, bytes: 0 };
    const bytes = entry.bytes - was.bytes;
    if (bytes > 0) growth.push({ kind, count: entry.count - was.count, bytes });
  }
  return growth.sort((a, b) => b.bytes - a.bytes).slice(0, top);
}
