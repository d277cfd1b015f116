import { EventEmitter } from 'node:events';
import { Address, LocalMessage, NodeError, route, type Context, type Routed, type Worker } from '../../src';
import { CapturingLogger } from '../helpers/capturing-logger';
import { deferred, nextTurn, until, waitFor, within } from '../helpers/async';
import { newNode, stopNodes } from '../helpers/nodes';

afterEach(stopNodes);

/** A worker that keeps every message it handles (a `seen` event each). */
class Recorder extends EventEmitter implements Worker {
  readonly seen: Routed[] = [];
  handleMessage(_ctx: Context, message: Routed): void {
    this.seen.push(message);
    this.emit('seen', message);
  }
}

describe('NodeRuntime', () => {
  describe('delivery', () => {
    it('delivers 10k messages to a worker in the order they were sent', async () => {
      const node = newNode();
      const sink = new Recorder();
      await node.startWorker('sink', sink);
      const ctx = node.context();
      const N = 10_000;
      for (let i = 0; i < N; i++) await ctx.send('sink', i);
      await until(sink, 'seen', () => sink.seen.length === N, 10_000, 'all messages handled');
      expect(sink.seen.map((m) => m.body)).toEqual(Array.from({ length: N }, (_, i) => i));
    });

    it('keeps FIFO order when senders wait for room in a small mailbox', async () => {
      const node = newNode();
      const sink = new Recorder();
      await node.startWorker('sink', sink, { mailboxCapacity: 8 });
      const ctx = node.context();
      const N = 10_000;
      // Not awaited one by one: most of these sends wait in the mailbox's line of senders.
      await within(Promise.all(Array.from({ length: N }, (_, i) => ctx.send('sink', i))), 10_000, 'sends');
      await until(sink, 'seen', () => sink.seen.length === N, 10_000, 'all messages handled');
      expect(sink.seen.map((m) => m.body)).toEqual(Array.from({ length: N }, (_, i) => i));
    });

    it('never runs two handlers of a worker at the same time', async () => {
      const node = newNode();
      let inFlight = 0;
      let maxInFlight = 0;
      let handled = 0;
      await node.startWorker('slow', {
        async handleMessage() {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await Promise.resolve();
          await nextTurn();
          await new Promise((resolve) => setTimeout(resolve, 0));
          inFlight--;
          handled++;
        },
      });
      const ctx = node.context();
      await Promise.all(Array.from({ length: 200 }, (_, i) => ctx.send('slow', i)));
      await waitFor(() => handled === 200, 10_000, 'all messages handled');
      expect(maxInFlight).toBe(1);
    });

    it('gives another worker turns while one is flooded', async () => {
      const node = newNode({ turnBudget: 64 });
      let floodHandled = 0;
      let floodHandledWhenOtherRan = -1;
      const N = 20_000;
      await node.startWorker('flooded', { handleMessage: () => void floodHandled++ }, { mailboxCapacity: N });
      await node.startWorker('other', {
        handleMessage: () => void (floodHandledWhenOtherRan = floodHandled),
      });
      const ctx = node.context();
      for (let i = 0; i < N; i++) void ctx.send('flooded', i); // all queued synchronously
      void ctx.send('other', 'my turn?');
      await waitFor(() => floodHandled === N, 10_000, 'flood handled');
      expect(floodHandledWhenOtherRan).toBeGreaterThanOrEqual(0);
      // Round robin: 'other' runs after one turn of the flooded worker, not after all of them.
      expect(floodHandledWhenOtherRan).toBeLessThanOrEqual(2 * 64);
    });

    it('lets timers and setImmediate callbacks run while a flood is processed', async () => {
      const node = newNode();
      let handled = 0;
      const N = 100_000;
      await node.startWorker('flooded', { handleMessage: () => void handled++ }, { mailboxCapacity: N });
      const ctx = node.context();
      for (let i = 0; i < N; i++) void ctx.send('flooded', i);
      let handledAtImmediate = -1;
      let handledAtTimer = -1;
      setImmediate(() => (handledAtImmediate = handled));
      setTimeout(() => (handledAtTimer = handled), 0);
      await waitFor(() => handled === N, 20_000, 'flood handled');
      expect(handledAtImmediate).toBeGreaterThanOrEqual(0);
      expect(handledAtImmediate).toBeLessThan(N);
      expect(handledAtTimer).toBeGreaterThanOrEqual(0);
      expect(handledAtTimer).toBeLessThan(N);
    });
  });

  describe('addresses and routes', () => {
    it('delivers to a worker on each of its addresses', async () => {
      const node = newNode();
      const multi = new Recorder();
      const wctx = await node.startWorker(['m1', Address.local('m2'), 'm3'], multi);
      expect(wctx.address.key).toBe('0#m1');
      expect(wctx.addresses.map((a) => a.key)).toEqual(['0#m1', '0#m2', '0#m3']);
      const ctx = node.context();
      await ctx.send('m1', 'one');
      await ctx.send('m2', 'two');
      await ctx.send('0#m3', 'three');
      await until(multi, 'seen', () => multi.seen.length === 3);
      expect(multi.seen.map((m) => [m.address.key, m.body])).toEqual([
        ['0#m1', 'one'],
        ['0#m2', 'two'],
        ['0#m3', 'three'],
      ]);
      expect(node.workers().map((a) => a.key)).toEqual(['0#m1']);
    });

    it('releases every address of a worker when it stops', async () => {
      const node = newNode();
      await node.startWorker(['m1', 'm2'], new Recorder());
      await node.stopWorker('m2');
      expect(node.hasWorker('m1')).toBe(false);
      await node.startWorker(['m1', 'm2'], new Recorder()); // both free again
      expect(node.hasWorker('m2')).toBe(true);
    });

    it('sets the return route to the sending context, or to the address given to sendFrom', async () => {
      const node = newNode();
      const sink = new Recorder();
      await node.startWorker('sink', sink);
      const ctx = node.context('app');
      await ctx.send('sink', 'plain');
      await ctx.sendFrom(Address.local('on-behalf'), route('sink'), 'from');
      await until(sink, 'seen', () => sink.seen.length === 2);
      expect(sink.seen[0]!.returnRoute.toString()).toBe('0#app');
      expect(sink.seen[0]!.sender?.key).toBe('0#app');
      expect(sink.seen[1]!.returnRoute.toString()).toBe('0#on-behalf');
    });

    it('forwards a message with its routes and local info unchanged', async () => {
      const node = newNode();
      const sink = new Recorder();
      await node.startWorker('sink', sink);
      // A relay that passes the message on to the rest of its onward route, keeping everything else.
      await node.startWorker('relay', {
        handleMessage: (ctx, m) =>
          ctx.forward(m.message.withRoutes(m.onwardRoute.stepForward(), m.returnRoute)),
      });
      const ctx = node.context();
      const original = new LocalMessage(
        route('relay', 'sink', 'beyond'),
        route('a', 'b'),
        { n: 1 },
        { tag: 'x' },
      );
      await ctx.forward(original);
      await until(sink, 'seen', () => sink.seen.length === 1);
      const got = sink.seen[0]!;
      expect(got.onwardRoute.toString()).toBe('0#sink => 0#beyond');
      expect(got.returnRoute.toString()).toBe('0#a => 0#b');
      expect(got.localInfo).toEqual({ tag: 'x' });
      expect(got.body).toEqual({ n: 1 });
    });

    it('refuses a second worker at an address in use', async () => {
      const node = newNode();
      await node.startWorker('taken', new Recorder());
      await expect(node.startWorker(['free', 'taken'], new Recorder())).rejects.toMatchObject({
        name: 'NodeError',
        code: 'ADDRESS_IN_USE',
      });
      // The failed start released the address it had registered.
      await node.startWorker('free', new Recorder());
    });

    it('tells a worker that receive is not how it gets messages', async () => {
      const node = newNode();
      const ctx = await node.startWorker('w', new Recorder());
      await expect(ctx.receive({ timeout: 10 })).rejects.toMatchObject({ code: 'RECEIVE_UNSUPPORTED' });
    });
  });

  describe('worker lifecycle', () => {
    it('logs a rejected handler with the worker address and goes on with the next messages', async () => {
      const logger = new CapturingLogger();
      const node = newNode({ logger });
      const handled: string[] = [];
      await node.startWorker('fragile', {
        async handleMessage(_ctx: Context, m: Routed<string>) {
          if (m.body === 'throw') throw new Error('failure before any await');
          if (m.body === 'reject') {
            await Promise.resolve();
            throw new Error('failure after an await');
          }
          handled.push(m.body);
        },
      });
      const ctx = node.context();
      for (const body of ['throw', 'a', 'reject', 'b']) await ctx.send('fragile', body);
      await waitFor(() => handled.length === 2);
      expect(handled).toEqual(['a', 'b']);
      const errors = logger.at('error');
      expect(errors).toHaveLength(2);
      for (const entry of errors) expect(entry.bindings).toMatchObject({ worker: '0#fragile' });
      expect(errors.map((e) => ((e.obj as { err: Error }).err as Error).message)).toEqual([
        'failure before any await',
        'failure after an await',
      ]);
    });

    it('logs a synchronously thrown handler error and carries on', async () => {
      const logger = new CapturingLogger();
      const node = newNode({ logger });
      let handled = 0;
      await node.startWorker('sync', {
        handleMessage(_ctx, m) {
          if (m.body === 'bad') throw new Error('bad body');
          handled++;
        },
      });
      const ctx = node.context();
      await ctx.send('sync', 'bad');
      await ctx.send('sync', 'good');
      await waitFor(() => handled === 1);
      expect(logger.at('error')).toEqual([
        expect.objectContaining({ bindings: expect.objectContaining({ worker: '0#sync' }) }),
      ]);
    });

    it.each([
      [
        'throws',
        () => {
          throw new Error('no config');
        },
      ],
      [
        'rejects',
        async () => {
          await Promise.resolve();
          throw new Error('no config');
        },
      ],
    ])(
      'rejects startWorker with INITIALIZE_FAILED when initialize %s, and frees the address',
      async (_how, init) => {
        const node = newNode();
        const failing = node.startWorker('w', { initialize: init, handleMessage: () => undefined });
        await expect(failing).rejects.toBeInstanceOf(NodeError);
        const error = await failing.catch((err: NodeError) => err);
        expect(error).toMatchObject({ code: 'INITIALIZE_FAILED', origin: 'node' });
        expect((error as NodeError).cause).toEqual(new Error('no config'));
        expect(node.hasWorker('w')).toBe(false);
        const sink = new Recorder();
        await node.startWorker('w', sink);
        await node.context().send('w', 'after');
        await until(sink, 'seen', () => sink.seen.length === 1);
      },
    );

    it('delivers messages sent during initialize once it has finished', async () => {
      const node = newNode();
      const sink = new Recorder();
      const gate = deferred();
      let initialized = false;
      const starting = node.startWorker('w', {
        initialize: async () => {
          await gate.promise;
          initialized = true;
        },
        handleMessage: (ctx, m) => {
          expect(initialized).toBe(true);
          sink.handleMessage(ctx, m);
        },
      });
      await node.context().send('w', 'early');
      await nextTurn();
      expect(sink.seen).toHaveLength(0);
      gate.resolve();
      await within(starting, 1_000, 'startWorker');
      await until(sink, 'seen', () => sink.seen.length === 1);
    });

    it('emits workerStarted and workerStopped', async () => {
      const node = newNode();
      const events: string[] = [];
      node.on('workerStarted', (a) => events.push(`started ${a.key}`));
      node.on('workerStopped', (a) => events.push(`stopped ${a.key}`));
      await node.startWorker('w', new Recorder());
      await node.stopWorker('w');
      expect(events).toEqual(['started 0#w', 'stopped 0#w']);
      await expect(node.stopWorker('w')).rejects.toMatchObject({ code: 'WORKER_NOT_FOUND' });
    });

    it('refuses startWorker(Class) on a node without a worker factory, saying how to get one', async () => {
      const node = newNode();
      class Plain implements Worker {
        handleMessage(): void {}
      }
      await expect(node.startWorker(Plain)).rejects.toThrow(/createNode\(\) or run\(\)/);
    });
  });
});
