import { route } from '../../src/core/route';
import { handleChanges, lastingHandles, settledSample } from '../../reliability/lib/measure';
import { numbered, type SinkCounts } from '../../reliability/lib/numbered';
import { Cleanup } from '../helpers/tcp-fixtures';
import { startAlice, startBob, startHub, toBob } from './fixtures';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/**
 * A small sample of `npm run soak` (reliability/soak.ts), in one process over real TCP: the same
 * properties, with the heap bound scaled to the sample.
 */
describe('soak (sample of npm run soak)', () => {
  it('carries 20,000 messages through a hub: each delivered once and intact, heap flat, handles back', async () => {
    const hub = await startHub(cleanup);
    const bob = await startBob(cleanup, hub.address);
    const alice = await startAlice(cleanup);
    const channel = await alice.open(toBob(hub.address, bob));
    const sink = route(channel, 'sink');
    let seq = 0;
    const burst = async (n: number): Promise<SinkCounts> => {
      for (let i = 0; i < n; i++) await alice.ctx.send(sink, numbered(seq++, 64));
      return (await alice.ctx.request<SinkCounts>(sink, 'count', { timeout: 15_000 })).body;
    };

    await burst(4_000); // warm-up
    const start = await settledSample();
    for (let round = 0; round < 4; round++) await burst(5_000);
    const counts = await burst(0);
    const end = await settledSample();

    expect(counts).toEqual({ received: 24_000, duplicates: 0, corrupted: 0 });
    // The full soak keeps each process within 0.5 MiB over a million messages; three nodes share this heap.
    expect(end.heapUsed - start.heapUsed).toBeLessThan(2 * 1024 * 1024);
    expect(handleChanges(lastingHandles(start.handles), lastingHandles(end.handles))).toEqual([]);
    for (const node of [hub.node, bob.node, alice.node]) expect(node.deadLetters.count).toBe(0);
  });
});
