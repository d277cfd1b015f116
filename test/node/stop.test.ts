import { NodeError, NodeRuntime, type Context, type Routed } from '../../src';
import { CapturingLogger } from '../helpers/capturing-logger';
import { deferred, nextTurn, within } from '../helpers/async';
import { trackResources } from '../helpers/resources';

/** Active handles and requests by kind (`Timeout`, `TCPWrap`, ...). */
function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

function expectNoMoreResourcesThan(before: Map<string, number>): void {
  const after = activeResources();
  for (const [kind, count] of after) {
    expect({ kind, count }).toEqual({ kind, count: Math.min(count, before.get(kind) ?? 0) });
  }
}

describe('NodeRuntime.stop', () => {
  it('runs every worker shutdown, the last started first, even when one fails', async () => {
    const logger = new CapturingLogger();
    const node = new NodeRuntime({ logger });
    const order: string[] = [];
    for (const name of ['transport', 'channel', 'service']) {
      await node.startWorker(name, {
        handleMessage: () => undefined,
        shutdown: async () => {
          await nextTurn();
          order.push(name);
          if (name === 'channel') throw new Error('shutdown failed');
        },
      });
    }
    const stopped = jest.fn();
    node.on('stopped', stopped);
    await within(node.stop(), 5_000, 'stop');
    expect(order).toEqual(['service', 'channel', 'transport']);
    expect(logger.at('error')).toEqual([
      expect.objectContaining({ bindings: expect.objectContaining({ worker: '0#channel' }) }),
    ]);
    expect(stopped).toHaveBeenCalledTimes(1);
    expect(node.workers()).toEqual([]);
    await node.stop(); // idempotent
    expect(stopped).toHaveBeenCalledTimes(1);
  });

  it('waits for a handler in flight before shutdown runs', async () => {
    const node = new NodeRuntime({ logger: new CapturingLogger() });
    const events: string[] = [];
    await node.startWorker('w', {
      async handleMessage() {
        events.push('handler started');
        await new Promise((resolve) => setTimeout(resolve, 20));
        events.push('handler finished');
      },
      shutdown: () => void events.push('shutdown'),
    });
    await node.context().send('w', 'x');
    await nextTurn();
    await within(node.stop(), 5_000, 'stop');
    expect(events).toEqual(['handler started', 'handler finished', 'shutdown']);
  });

  it('rejects pending receives and requests with NODE_STOPPED', async () => {
    const node = new NodeRuntime({ logger: new CapturingLogger() });
    await node.startWorker('mute', { handleMessage: () => undefined });
    const ctx = node.context();
    const pending = [ctx.receive({ timeout: 60_000 }), ctx.request('mute', 'anyone?', { timeout: 60_000 })];
    const errors = Promise.all(
      pending.map((p) =>
        p.then(
          () => undefined,
          (err: unknown) => err,
        ),
      ),
    );
    await nextTurn();
    await within(node.stop(), 5_000, 'stop');
    for (const error of await within(errors, 1_000, 'pending calls')) {
      expect(error).toBeInstanceOf(NodeError);
      expect(error).toMatchObject({ code: 'NODE_STOPPED' });
    }
    await expect(ctx.receive({ timeout: 10 })).rejects.toMatchObject({ code: 'NODE_STOPPED' });
    await expect(node.startWorker('late', { handleMessage: () => undefined })).rejects.toMatchObject({
      code: 'NODE_STOPPED',
    });
    expect(() => node.context()).toThrow(NodeError);
  });

  it('leaves no timers, handles or signal listeners behind', async () => {
    const sigint = process.listenerCount('SIGINT');
    const sigterm = process.listenerCount('SIGTERM');
    const before = activeResources();
    const tracker = trackResources();

    const logger = new CapturingLogger();
    const node = new NodeRuntime({
      logger,
      stopTimeoutMs: 50,
      sendTimeoutMs: 60_000,
      defaultTimeoutMs: 60_000,
    });
    node.stopOnSignals();
    const never = deferred();
    await node.startWorker(
      'stuck',
      {
        async handleMessage(_ctx: Context, _m: Routed) {
          await never.promise; // never settles: stop must not wait for it forever
        },
      },
      { mailboxCapacity: 1 },
    );
    await node.startWorker('mute', { handleMessage: () => undefined });
    const ctx = node.context();
    await ctx.send('stuck', 1);
    await nextTurn();
    await ctx.send('stuck', 2);
    // Each of these waits on a 60 s timer; their outcomes are kept so no rejection goes unhandled.
    const outcomes = Promise.allSettled([ctx.send('stuck', 3), ctx.receive(), ctx.request('mute', 'x')]);
    await nextTurn();
    expect(activeResources().get('Timeout') ?? 0).toBeGreaterThan(before.get('Timeout') ?? 0);

    await within(node.stop(), 5_000, 'stop');
    const [waitingSend, receiving, requesting] = await within(outcomes, 1_000, 'pending calls');
    expect(waitingSend).toMatchObject({ status: 'rejected', reason: { code: 'WORKER_STOPPED' } });
    expect(receiving).toMatchObject({ status: 'rejected', reason: { code: 'NODE_STOPPED' } });
    expect(requesting).toMatchObject({ status: 'rejected', reason: { code: 'NODE_STOPPED' } });
    expect(logger.at('warn').some((e) => e.msg?.includes('handler still running'))).toBe(true);
    expect(node.deadLetters.countOf('worker-stopped')).toBe(2);

    // A request made after the stop fails at once and leaves no timer behind either.
    await expect(ctx.request('mute', 'too late')).rejects.toMatchObject({ code: 'NODE_STOPPED' });

    expect(await tracker.leaks()).toEqual([]);
    expectNoMoreResourcesThan(before);
    expect(process.listenerCount('SIGINT')).toBe(sigint);
    expect(process.listenerCount('SIGTERM')).toBe(sigterm);
  });
});
