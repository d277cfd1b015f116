import { LocalMessage, NodeError, Route, route, type Context, type Routed, type Worker } from '../../src';
import { deferred } from '../helpers/async';
import { newNode, stopNodes } from '../helpers/nodes';

afterEach(stopNodes);

/** A worker that keeps the bodies it handles, in order. */
class Recorder implements Worker {
  readonly seen: unknown[] = [];
  handleMessage(_ctx: Context, message: Routed): void {
    this.seen.push(message.body);
  }
}

describe('explicit delivery outcomes', () => {
  it('says queued, refused (with the dead letter) or backpressure (with the promise of room)', async () => {
    const node = newNode({ mailboxCapacity: 1 });
    const held = deferred();
    // The worker holds its first message until told, so its one-slot mailbox fills behind it.
    await node.startWorker('slow', { handleMessage: () => held.promise });
    const ctx = node.context();
    const message = (to: string, body: unknown): LocalMessage =>
      new LocalMessage(route(to), Route.of([ctx.address]), body);

    expect(ctx.deliver(message('nobody', 1))).toMatchObject({
      status: 'refused',
      letter: { reason: 'no-route', code: 'NO_ROUTE', address: '0#nobody' },
    });
    expect(ctx.deliver(message('slow', 'first'))).toEqual({ status: 'queued' });
    await new Promise((resolve) => setImmediate(resolve)); // the worker takes it and holds
    expect(ctx.deliver(message('slow', 'second'))).toEqual({ status: 'queued' });
    const third = ctx.deliver(message('slow', 'third'));
    expect(third.status).toBe('backpressure');
    held.resolve();
    await (third as { room: Promise<void> }).room;
  });

  it('settles send with the outcome: queued, or refused with the reason', async () => {
    const node = newNode();
    await node.startWorker('sink', new Recorder());
    const ctx = node.context();
    await expect(ctx.send('sink', 'x')).resolves.toEqual({ status: 'queued' });
    await expect(ctx.send('nowhere', 'x')).resolves.toMatchObject({
      status: 'refused',
      letter: { reason: 'no-route', detail: 'nothing is registered at 0#nowhere' },
    });
  });

  it('fails a request refused on the spot at once, with the refusal as its message', async () => {
    const node = newNode({ defaultTimeoutMs: 60_000 });
    const ctx = node.context();
    await expect(ctx.request('nowhere', 'x')).rejects.toMatchObject({
      name: 'NodeError',
      code: 'NO_ROUTE',
      message: 'request not delivered: nothing is registered at 0#nowhere',
    });
  });
});

describe('the inline dispatcher', () => {
  it('has a send return after the message, and what it set off, were handled', async () => {
    const node = newNode({ dispatcher: 'inline' });
    const log: unknown[] = [];
    await node.startWorker('second', {
      handleMessage: (_ctx, m) => void log.push(`second:${String(m.body)}`),
    });
    await node.startWorker('first', {
      handleMessage: (ctx, m) => {
        log.push(`first:${String(m.body)}`);
        void ctx.send('second', m.body);
        log.push(`first sent ${String(m.body)}`);
      },
    });
    const ctx = node.context();
    void ctx.send('first', 1);
    log.push('main after send 1');
    void ctx.send('first', 2);
    // Everything ran on the sender's stack, one handler at a time: no await was needed.
    expect(log).toEqual([
      'first:1',
      'first sent 1',
      'second:1',
      'main after send 1',
      'first:2',
      'first sent 2',
      'second:2',
    ]);
  });

  it('is checked like every option', () => {
    expect(() => newNode({ dispatcher: 'eager' as 'inline' })).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTION',
        message: 'NodeOptions.dispatcher must be one of "scheduled", "inline", got "eager"',
      }),
    );
  });
});

describe('node error codes', () => {
  it('says NO_WORKER_FACTORY, not WORKER_NOT_FOUND, for a class on a node without a factory', async () => {
    class Plain implements Worker {
      handleMessage(): void {}
    }
    const node = newNode();
    await expect(node.startWorker(Plain)).rejects.toMatchObject({ code: 'NO_WORKER_FACTORY' });
    await expect(node.startWorker([], new Plain())).rejects.toMatchObject({ code: 'NO_ADDRESS' });
    await expect(node.stopWorker('none')).rejects.toMatchObject({ code: 'WORKER_NOT_FOUND' });
  });

  it('keeps the default of an option given as undefined', async () => {
    const node = newNode({ mailboxCapacity: undefined, sendTimeoutMs: undefined });
    expect(node.defaultMailboxCapacity).toBe(1024);
    expect(node.sendTimeoutMs).toBe(30_000);
    expect(() => newNode({ mailboxCapacity: -5 })).toThrow(NodeError);
  });
});
