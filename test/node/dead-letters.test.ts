import { NodeError, type Context, type DeadLetter, type Routed } from '../../src';
import { deferred, nextTurn, within } from '../helpers/async';
import { CapturingLogger } from '../helpers/capturing-logger';
import { newNode, stopNodes } from '../helpers/nodes';

afterEach(stopNodes);

describe('DeadLetters', () => {
  it('counts and emits a message sent to an unknown address', async () => {
    const node = newNode();
    const letters: DeadLetter[] = [];
    node.deadLetters.on('deadLetter', (letter) => letters.push(letter));
    await node.context().send('nobody', 'hello?');
    expect(node.deadLetters.countOf('no-route')).toBe(1);
    expect(node.deadLetters.count).toBe(1);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ reason: 'no-route', address: '0#nobody' });
    expect(letters[0]!.message.body).toBe('hello?');
    expect(node.deadLetters.recent()).toEqual(letters);
  });

  it('dead-letters a message whose route is empty', async () => {
    const node = newNode();
    await node.context().send([], 'nowhere');
    expect(node.deadLetters.countOf('no-route')).toBe(1);
    expect(node.deadLetters.recent()[0]!.address).toBe('(empty route)');
  });

  it('dead-letters every message queued when a worker stops, and never loses one silently', async () => {
    const node = newNode();
    const gate = deferred();
    const handled: unknown[] = [];
    const dropped: unknown[] = [];
    node.deadLetters.on('deadLetter', (letter) => dropped.push(letter.message.body));
    await node.startWorker(
      'w',
      {
        async handleMessage(_ctx: Context, m: Routed) {
          handled.push(m.body);
          await gate.promise;
        },
      },
      { mailboxCapacity: 4 },
    );
    const ctx = node.context();
    await ctx.send('w', 0); // in the handler
    await nextTurn();
    for (let i = 1; i <= 4; i++) await ctx.send('w', i); // queued
    const waitingSend = ctx.send('w', 5); // waiting for room
    const stopping = node.stopWorker('w');
    gate.resolve();
    await within(stopping, 2_000, 'stopWorker');
    await expect(waitingSend).rejects.toMatchObject({ name: 'NodeError', code: 'WORKER_STOPPED' });
    await ctx.send('w', 6); // after the stop: the address is gone
    expect(handled).toEqual([0]);
    expect(node.deadLetters.countOf('worker-stopped')).toBe(5);
    expect(node.deadLetters.countOf('no-route')).toBe(1);
    expect(dropped).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('throttles logging but counts every dead letter', async () => {
    const logger = new CapturingLogger();
    const node = newNode({ logger });
    const ctx = node.context();
    for (let i = 0; i < 100; i++) await ctx.send('nobody', i);
    expect(node.deadLetters.countOf('no-route')).toBe(100);
    const warnings = logger.at('warn').filter((e) => e.bindings.component === 'dead-letters');
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.length).toBeLessThanOrEqual(20);
    expect(node.deadLetters.recent().length).toBeLessThanOrEqual(64);
  });

  it('counts a message sent while the node stops as a dead letter, without a rejection nobody may await', async () => {
    const node = newNode();
    const ctx = node.context();
    await node.stop();
    await expect(ctx.send('anyone', 'x')).resolves.toMatchObject({
      status: 'refused',
      letter: { reason: 'node-stopped', code: 'NODE_STOPPED' },
    });
    expect(node.deadLetters.countOf('node-stopped')).toBe(1);
    await expect(ctx.request('anyone', 'x')).rejects.toBeInstanceOf(NodeError);
  });
});
