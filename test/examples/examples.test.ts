import { describeRun, runExample } from '../helpers/run-example';
import { scaled } from '../helpers/slowdown';

// Each example runs as a user would run it (a process through ts-node, type-checked), and its standard
// output must match line for line.
const examples: readonly { file: string; lines: readonly string[] }[] = [
  {
    file: 'examples/01-worker.ts',
    lines: ['Echoer received: hello, sealroute', 'App received: HELLO, SEALROUTE'],
  },
  {
    file: 'examples/02-routing-over-hops.ts',
    lines: [
      'h1 forwards to 0#h2 => 0#h3 => 0#echoer',
      'h2 forwards to 0#h3 => 0#echoer',
      'h3 forwards to 0#echoer',
      'Echoer received: hello over hops',
      'h3 forwards to 0#h2 => 0#h1 => 0#app',
      'h2 forwards to 0#h1 => 0#app',
      'h1 forwards to 0#app',
      'App received: hello over hops',
      'Its return route: 0#h1 => 0#h2 => 0#h3 => 0#echoer',
    ],
  },
];

describe('examples', () => {
  it.each(examples)(
    '$file prints what it should and exits 0',
    async ({ file, lines }) => {
      const result = await runExample(file, { timeoutMs: 60_000 });
      if (result.code !== 0) throw new Error(describeRun(result));
      expect(result.lines).toEqual(lines);
      // Nothing is logged on a clean run (the default logger writes JSON lines to stderr).
      expect(result.stderr).toBe('');
    },
    scaled(75_000),
  );
});
