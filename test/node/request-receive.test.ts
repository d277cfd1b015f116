import {
  LocalMessage,
  Route,
  TRANSPORT_INFO,
  TimeoutError,
  route,
  type Context,
  type Routed,
  type Worker,
} from '../../src';
import { collectGarbage, nextTurn, within } from '../helpers/async';
import { newNode, stopNodes } from '../helpers/nodes';

afterEach(stopNodes);

/** Replies to every message with its body, along the return route. */
const echoer: Worker = {
  handleMessage: (ctx: Context, m: Routed) => ctx.send(m.returnRoute, m.body),
};

describe('Context.receive', () => {
  it('returns a message already queued, then one that arrives while it waits', async () => {
    const node = newNode();
    const ctx = node.context('inbox');
    const other = node.context();
    await other.send('inbox', 'queued');
    expect((await within(ctx.receive({ timeout: 1_000 }), 2_000)).body).toBe('queued');
    const waiting = ctx.receive<string>({ timeout: 1_000 });
    await other.send('inbox', 'later');
    const got = await within(waiting, 2_000);
    expect(got.body).toBe('later');
    expect(got.sender?.key).toBe(other.address.key);
  });

  it('rejects with TimeoutError when nothing arrives in time', async () => {
    const node = newNode();
    const ctx = node.context();
    const started = Date.now();
    const error = await within(ctx.receive({ timeout: 20 }), 2_000).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'TIMEOUT', timeoutMs: 20 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
  });

  it('delivers a message sent after a timed-out receive to the next receive', async () => {
    const node = newNode();
    const ctx = node.context('inbox');
    await expect(ctx.receive({ timeout: 5 })).rejects.toBeInstanceOf(TimeoutError);
    await node.context().send('inbox', 'not lost');
    expect((await within(ctx.receive({ timeout: 1_000 }), 2_000)).body).toBe('not lost');
  });
});

describe('Context.receive memory', () => {
  it('forgets timed-out receives, so a polling loop does not grow memory', async () => {
    const node = newNode();
    const ctx = node.context('poller');
    // 20k receives that all time out; kept, they would hold about 1 KiB each until the next message.
    const pollRound = () =>
      Promise.allSettled(Array.from({ length: 20_000 }, () => ctx.receive({ timeout: 1 })));
    await within(pollRound(), 10_000, 'warm-up round'); // first-use allocations do not count
    collectGarbage();
    const baseline = process.memoryUsage().heapUsed;
    for (let round = 0; round < 2; round++) await within(pollRound(), 10_000, 'polling round');
    await nextTurn();
    collectGarbage();
    expect(process.memoryUsage().heapUsed - baseline).toBeLessThan(8 * 1024 * 1024);
    await node.context().send('poller', 'still works');
    expect((await within(ctx.receive({ timeout: 1_000 }), 2_000)).body).toBe('still works');
  });
});

describe('Context.request', () => {
  it('sends and resolves with the reply', async () => {
    const node = newNode();
    await node.startWorker('echoer', echoer);
    const ctx = node.context();
    const reply = await within(ctx.request<string>('echoer', 'ping', { timeout: 1_000 }), 2_000);
    expect(reply.body).toBe('ping');
    expect(reply.sender?.key).toBe('0#echoer');
    // The reply went to a one-off address, not to the context's inbox.
    await expect(ctx.receive({ timeout: 5 })).rejects.toBeInstanceOf(TimeoutError);
  });

  it('keeps concurrent requests apart', async () => {
    const node = newNode();
    await node.startWorker('echoer', echoer);
    const ctx = node.context();
    const replies = await within(
      Promise.all(Array.from({ length: 100 }, (_, i) => ctx.request('echoer', i, { timeout: 2_000 }))),
      5_000,
    );
    expect(replies.map((r) => r.body)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('rejects with TimeoutError when no reply comes, and dead-letters a late reply', async () => {
    const node = newNode();
    let pendingReply: Routed | undefined;
    await node.startWorker('sluggish', { handleMessage: (_ctx, m) => void (pendingReply = m) });
    const ctx = node.context();
    const error = await within(ctx.request('sluggish', 'hello?', { timeout: 20 }), 2_000).catch(
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ timeoutMs: 20 });
    await ctx.send(pendingReply!.returnRoute, 'too late');
    expect(node.deadLetters.countOf('no-route')).toBe(1);
  });

  it('can be awaited inside a handler, to another worker, without deadlock', async () => {
    const node = newNode();
    await node.startWorker('back', {
      handleMessage: (ctx: Context, m: Routed<string>) => ctx.send(m.returnRoute, m.body.toUpperCase()),
    });
    await node.startWorker('front', {
      async handleMessage(ctx: Context, m: Routed<string>) {
        const inner = await ctx.request<string>('back', m.body, { timeout: 1_000 });
        await ctx.send(m.returnRoute, `${inner.body}!`);
      },
    });
    const ctx = node.context();
    const replies = await within(
      Promise.all(
        ['a', 'b', 'c'].map((body) => ctx.request<string>(route('front'), body, { timeout: 2_000 })),
      ),
      5_000,
    );
    expect(replies.map((r) => r.body)).toEqual(['A!', 'B!', 'C!']);
  });

  it('gets replies through the return route a worker was given', async () => {
    const node = newNode();
    await node.startWorker('echoer', echoer);
    const ctx = node.context('app');
    await ctx.send('echoer', 'to my inbox');
    expect((await within(ctx.receive({ timeout: 1_000 }), 2_000)).body).toBe('to my inbox');
  });
});

describe('Context.request to nowhere', () => {
  it('fails at once with NO_ROUTE when the first hop is an unknown local address', async () => {
    const node = newNode();
    const ctx = node.context();
    const started = Date.now();
    const error = await within(ctx.request('nobody', 'x', { timeout: 10_000 }), 2_000).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: 'NodeError', code: 'NO_ROUTE' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(node.deadLetters.countOf('no-route')).toBe(1);
  });
});

describe('Context.request replies from a transport', () => {
  /** Replies as a transport would deliver a message from a connection. */
  const fromTransport: Worker = {
    handleMessage: (ctx: Context, m: Routed) =>
      ctx.forward(
        new LocalMessage(m.returnRoute, Route.EMPTY, 'reply', { [TRANSPORT_INFO]: { remote: 'x' } }),
      ),
  };

  it('refuses them by default, so a relay cannot answer in place of a secure channel', async () => {
    const node = newNode();
    await node.startWorker('tx', fromTransport);
    const ctx = node.context();
    await expect(ctx.request('tx', 'q', { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
    expect(node.deadLetters.countOf('access-denied')).toBe(1);
  });

  it('takes them with acceptsTransportReplies', async () => {
    const node = newNode();
    await node.startWorker('tx', fromTransport);
    const reply = await within(node.context().request('tx', 'q', { acceptsTransportReplies: true }), 2_000);
    expect(reply.body).toBe('reply');
  });
});
