import { NodeError, type Context, type Routed } from '../../src';
import { collectGarbage, deferred, isPending, nextTurn, waitFor, within } from '../helpers/async';
import { newNode, stopNodes } from '../helpers/nodes';
import { scaled } from '../helpers/slowdown';

// Slow work on a busy machine: a budget scaled by its measured slowdown.
jest.setTimeout(scaled(120_000));

afterEach(stopNodes);

describe('NodeRuntime backpressure', () => {
  it('makes send wait while the worker mailbox is full, until the worker takes a message', async () => {
    const node = newNode();
    const gate = deferred();
    const handled: unknown[] = [];
    await node.startWorker(
      'slow',
      {
        async handleMessage(_ctx: Context, m: Routed) {
          await gate.promise;
          handled.push(m.body);
        },
      },
      { mailboxCapacity: 1 },
    );
    const ctx = node.context();
    await ctx.send('slow', 1); // taken by the handler, which blocks on the gate
    await nextTurn();
    await ctx.send('slow', 2); // fills the mailbox
    const third = ctx.send('slow', 3);
    expect(await isPending(third)).toBe(true);
    expect(await isPending(third)).toBe(true);
    gate.resolve();
    await within(third, 2_000, 'the waiting send');
    await waitFor(() => handled.length === 3);
    expect(handled).toEqual([1, 2, 3]);
  });

  it('rejects a send that waits longer than sendTimeoutMs with MAILBOX_FULL, and drops nothing else', async () => {
    const node = newNode({ sendTimeoutMs: 20 });
    const gate = deferred();
    const handled: unknown[] = [];
    await node.startWorker(
      'stuck',
      {
        async handleMessage(_ctx: Context, m: Routed) {
          await gate.promise;
          handled.push(m.body);
        },
      },
      { mailboxCapacity: 2 },
    );
    const ctx = node.context();
    await ctx.send('stuck', 1);
    await nextTurn();
    await ctx.send('stuck', 2);
    await ctx.send('stuck', 3);
    const started = Date.now();
    const error = await within(ctx.send('stuck', 4), 2_000, 'the timed-out send').catch(
      (err: unknown) => err,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    expect(error).toBeInstanceOf(NodeError);
    expect(error).toMatchObject({ code: 'MAILBOX_FULL' });
    expect((error as Error).message).toContain('0#stuck');
    gate.resolve();
    await waitFor(() => handled.length === 3);
    await nextTurn();
    expect(handled).toEqual([1, 2, 3]); // the refused message is not delivered later
  });

  it('keeps memory bounded while a producer floods a slow consumer', async () => {
    const node = newNode();
    const CAPACITY = 100;
    const N = 200_000;
    const KIB = 1024;
    let issued = 0;
    let started = 0;
    let maxInSystem = 0;
    let peakGrowth = 0;
    collectGarbage();
    const baseline = process.memoryUsage().heapUsed;
    await node.startWorker(
      'slow',
      {
        async handleMessage() {
          started++;
          // Queued plus waiting: the mailbox holds at most CAPACITY and a sequential producer adds one.
          maxInSystem = Math.max(maxInSystem, issued - started);
          if (started % 20_000 === 0) {
            collectGarbage();
            peakGrowth = Math.max(peakGrowth, process.memoryUsage().heapUsed - baseline);
          }
          await nextTurn(); // slower than the producer, which only waits for microtasks
        },
      },
      { mailboxCapacity: CAPACITY },
    );
    const ctx = node.context();
    const produce = async () => {
      for (let i = 0; i < N; i++) {
        // A fresh 1 KiB string on the V8 heap per message: an unbounded queue would hold ~200 MiB.
        const body = String(i).padEnd(KIB, '.');
        issued++;
        await ctx.send('slow', body);
      }
    };
    await within(produce(), 60_000, 'producer');
    await waitFor(() => started === N, 60_000, 'consumer');
    expect(maxInSystem).toBeLessThanOrEqual(CAPACITY + 1);
    expect(maxInSystem).toBeGreaterThanOrEqual(CAPACITY); // the producer did outrun the consumer
    expect(peakGrowth).toBeLessThan(32 * 1024 * 1024);
  });
});
