import {
  Context,
  Lifecycle,
  NodeRuntime,
  Routed,
  Worker,
  createNode,
  scoped,
  silentLogger,
  singleton,
} from '../../src';

/** One per node: every worker of a node shares it, another node has its own. */
@scoped(Lifecycle.ContainerScoped)
class PerNodeCounter {
  count = 0;
}

/** One per process: every node shares it. */
@singleton()
class ProcessWideCounter {
  count = 0;
}

@Worker({ address: 'counter' })
class Counting implements Worker<string> {
  constructor(
    readonly perNode: PerNodeCounter,
    readonly processWide: ProcessWideCounter,
    readonly node: NodeRuntime,
  ) {}

  async handleMessage(ctx: Context, msg: Routed<string>): Promise<void> {
    this.perNode.count++;
    this.processWide.count++;
    await ctx.send(msg.returnRoute, `${this.perNode.count}/${this.processWide.count}`);
  }
}

describe('services per node and per process', () => {
  it('@scoped(Lifecycle.ContainerScoped) gives each node its own instance; @singleton() is shared by all', async () => {
    const first = createNode({ logger: silentLogger });
    const second = createNode({ logger: silentLogger });
    try {
      // Two workers on the first node, one on the second, all built from the same class.
      await first.node.startWorker(Counting);
      await first.node.startWorker(Counting, { address: 'counter2' });
      await second.node.startWorker(Counting);
      const ask = async (node: NodeRuntime, address: string): Promise<string> =>
        (await node.context().request<string>(address, 'count', { timeout: 10_000 })).body;

      expect(await ask(first.node, 'counter')).toBe('1/1');
      expect(await ask(first.node, 'counter2')).toBe('2/2'); // same node: same per-node counter
      expect(await ask(second.node, 'counter')).toBe('1/3'); // other node: its own, but the process-wide one
      expect(first.container.resolve(PerNodeCounter)).not.toBe(second.container.resolve(PerNodeCounter));
      expect(first.container.resolve(ProcessWideCounter)).toBe(second.container.resolve(ProcessWideCounter));
      // Each worker is its own instance, and gets its own node.
      expect(first.container.resolve(Counting).node).toBe(first.node);
      expect(second.container.resolve(Counting).node).toBe(second.node);
    } finally {
      await Promise.all([first.node.stop(), second.node.stop()]);
    }
  });
});
