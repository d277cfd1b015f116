import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SRC, srcFiles } from './src-files';

/** The node's own layers: they may reach into a node. */
const NODE_LAYERS = ['node/', 'di/'];

/** `ctx.node.x`, `this.ctx.node.x`, `ctx?.node.x`: a worker reaching through its context into the node. */
const THROUGH_CONTEXT = /\bctx\??\.node\??\./;
/** Any `.node.router` / `.deadLetters.record` / ... : the node's internals, whoever holds the node. */
const INTERNALS =
  /\.node\??\.(router|scheduler|deadlines|flowControls\??\.(admit|join|stats)|deadLetters\??\.(record|on|off|once))\b/;

function offences(pattern: RegExp, allowed: readonly string[]): string[] {
  return srcFiles()
    .filter((file) => !allowed.some((prefix) => file.startsWith(prefix)))
    .flatMap((file) =>
      readFileSync(path.join(SRC, file), 'utf8')
        .split('\n')
        .flatMap((line, i) => (pattern.test(line) ? [`src/${file}:${i + 1}: ${line.trim()}`] : [])),
    );
}

describe('the sealed node', () => {
  it('finds the patterns it guards against (so the scan below can fail)', () => {
    expect(THROUGH_CONTEXT.test('    if (!this.ctx.node.isStopped) return;')).toBe(true);
    expect(THROUGH_CONTEXT.test('else if (this.ctx?.node.hasWorker(a)) void 0;')).toBe(true);
    expect(INTERNALS.test('this.host.node.flowControls.admit(m, a, w)')).toBe(true);
    expect(INTERNALS.test('this.node.deadLetters.record(r, d, m)')).toBe(true);
    expect(THROUGH_CONTEXT.test('secureChannelMemory(ctx.node)')).toBe(false);
    expect(srcFiles()).toContain('node/context.ts');
  });

  it('has no `ctx.node.` outside src/node and src/di', () => {
    expect(offences(THROUGH_CONTEXT, NODE_LAYERS)).toEqual([]);
  });

  it("reaches no node's router, scheduler, deadlines, flow controls or dead-letter recording from outside the node", () => {
    expect(offences(INTERNALS, NODE_LAYERS)).toEqual([]);
  });
});
