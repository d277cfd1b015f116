import { EventEmitter } from 'node:events';
import { Address, type Context, type Routed, type Worker } from '../../src';
import { until } from '../helpers/async';
import { newNode, stopNodes } from '../helpers/nodes';

afterEach(stopNodes);

/** A worker that keeps the address each message arrived on and its body (a `seen` event each). */
class Recorder extends EventEmitter implements Worker {
  readonly seen: string[] = [];
  handleMessage(_ctx: Context, message: Routed): void {
    this.seen.push(`${message.address.value}:${String(message.body)}`);
    this.emit('seen');
  }
}

describe('Context.addAddress', () => {
  it('makes a running worker take more addresses, told apart by message.address, until removed', async () => {
    const node = newNode();
    const recorder = new Recorder();
    const worker = await node.startWorker('many', recorder);
    worker.addAddress('fwd.n.alice');
    worker.addAddress('fwd.n.bob');
    const ctx = node.context();
    await ctx.send('fwd.n.alice', 1);
    await ctx.send('fwd.n.bob', 2);
    await ctx.send('many', 3);
    await until(recorder, 'seen', () => recorder.seen.length === 3);
    expect(recorder.seen).toEqual(['fwd.n.alice:1', 'fwd.n.bob:2', 'many:3']);

    worker.removeAddress('fwd.n.alice');
    const refused = await ctx.send('fwd.n.alice', 4);
    expect(refused).toMatchObject({ status: 'refused', letter: { reason: 'no-route' } });
    await ctx.send('fwd.n.bob', 5);
    await until(recorder, 'seen', () => recorder.seen.length === 4);
    expect(recorder.seen[3]).toBe('fwd.n.bob:5');
    // The worker is still named by the address it started with, not by one it took.
    expect(node.hasWorker('many')).toBe(true);
    expect(node.hasWorker('fwd.n.bob')).toBe(false);
  });

  it('refuses an address in use and one that is not local, and a context that is not a worker', async () => {
    const node = newNode();
    await node.startWorker('taken', new Recorder());
    const worker = await node.startWorker('many', new Recorder());
    expect(() => worker.addAddress('taken')).toThrow(expect.objectContaining({ code: 'ADDRESS_IN_USE' }));
    worker.addAddress('mine');
    expect(() => worker.addAddress('mine')).toThrow(expect.objectContaining({ code: 'ADDRESS_IN_USE' }));
    expect(() => worker.addAddress(Address.parse('1#127.0.0.1:4000'))).toThrow(
      expect.objectContaining({ code: 'INVALID_ADDRESS' }),
    );
    const detached = node.context();
    expect(() => detached.addAddress('elsewhere')).toThrow(
      expect.objectContaining({ code: 'WORKER_NOT_FOUND' }),
    );
  });

  it("does nothing when asked to remove an address it did not add (another worker's stays)", async () => {
    const node = newNode();
    const other = new Recorder();
    await node.startWorker('other', other);
    const worker = await node.startWorker('many', new Recorder());
    worker.removeAddress('other');
    await node.context().send('other', 1);
    await until(other, 'seen', () => other.seen.length === 1);
  });

  it('releases the added addresses when the worker stops, and takes no more once it stopped', async () => {
    const node = newNode();
    const worker = await node.startWorker('many', new Recorder());
    for (let i = 0; i < 100; i++) worker.addAddress(`fwd.n.${i}`);
    await node.stopWorker('many');
    expect(() => worker.addAddress('late')).toThrow(expect.objectContaining({ code: 'WORKER_NOT_FOUND' }));
    expect(await node.context().send('fwd.n.7', 1)).toMatchObject({ status: 'refused' });
    // Free again: another worker may start at one.
    const next = new Recorder();
    await node.startWorker('fwd.n.7', next);
    await node.context().send('fwd.n.7', 2);
    await until(next, 'seen', () => next.seen.length === 1);
  });
});
