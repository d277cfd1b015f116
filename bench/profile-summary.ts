/**
 * Where a CPU profile's time went, as text: `npx ts-node bench/profile-summary.ts <file.cpuprofile> [top]
 * [focus]`. Prints the share of samples by area (each src/ layer, node internals, GC, idle) and the
 * functions with the most self time and the most inclusive time. With `focus` (the start of a function's
 * label, e.g. `main bench/noise-handshakes.ts`), only the samples under that function count, so start-up
 * (ts-node compiling) stays out of the shares. For the profiles of `BENCH_CPU_PROF=<dir> npm run bench
 * -- hub` (see bench/README.md), or of any `node --cpu-prof` run.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** `src/channel/x.js` from a URL into the benchmarks' compiled tree or the repository. */
function shortUrl(url: string): string {
  const at = url.search(/\/(src|bench|node_modules)\//);
  return at >= 0 ? url.slice(at + 1) : url;
}

function area(node: ProfileNode): string {
  const { functionName, url } = node.callFrame;
  if (url === '') return functionName === '' ? '(native)' : functionName;
  const short = shortUrl(url);
  const layer = /^src\/([^/]+)\//.exec(short);
  if (layer) return `src/${layer[1]}`;
  if (short.startsWith('node_modules/')) return short.split('/').slice(0, 2).join('/');
  if (short.startsWith('node:')) return 'node internals';
  return short;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || '(anonymous)'} ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ''}`.trim();
}

function percent(part: number, total: number): string {
  return `${((100 * part) / total).toFixed(1).padStart(5)}%`;
}

function main(): void {
  const [file, topArg, focus] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: profile-summary <file.cpuprofile> [top] [focus]');
  const top = Number(topArg ?? 25);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  // With a focus, only the nodes at or below a function whose label starts with it.
  const kept = new Set<number>();
  const keep = (id: number, inside: boolean): void => {
    const node = byId.get(id)!;
    const now = inside || focus === undefined || label(node).startsWith(focus);
    if (now) kept.add(id);
    for (const child of node.children ?? []) keep(child, now);
  };
  keep(profile.nodes[0]!.id, false);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    if (kept.has(id)) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);

  const areas = new Map<string, number>();
  const selfByLabel = new Map<string, number>();
  for (const [id, time] of self) {
    const node = byId.get(id)!;
    areas.set(area(node), (areas.get(area(node)) ?? 0) + time);
    selfByLabel.set(label(node), (selfByLabel.get(label(node)) ?? 0) + time);
  }
  // Inclusive time: a function's own samples and those of everything it called, counted once per stack
  // even when it recurses.
  const inclusive = new Map<string, number>();
  const walk = (id: number, onStack: ReadonlySet<string>): number => {
    const node = byId.get(id)!;
    let sum = self.get(id) ?? 0;
    const name = label(node);
    const stack = onStack.has(name) ? onStack : new Set([...onStack, name]);
    for (const child of node.children ?? []) sum += walk(child, stack);
    if (!onStack.has(name)) inclusive.set(name, (inclusive.get(name) ?? 0) + sum);
    return sum;
  };
  walk(profile.nodes[0]!.id, new Set());

  const print = (title: string, entries: Map<string, number>, n: number): void => {
    console.log(`\n${title}`);
    for (const [name, time] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, n)) {
      console.log(`${percent(time, total)}  ${name}`);
    }
  };
  console.log(
    `${file}: ${(total / 1e6).toFixed(1)} s sampled${focus === undefined ? '' : ` under ${focus}`}`,
  );
  print('by area (self time)', areas, 20);
  print('functions by self time', selfByLabel, top);
  inclusive.delete(label(profile.nodes[0]!));
  print('functions by inclusive time', inclusive, top);
}

main();
