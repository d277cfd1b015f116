/**
 * Messaging between workers of one node, beside a bare mailbox (bench/baselines/bare-mailbox.ts) and the
 * nact actor library, measured in the same run. Nothing here waits for I/O, so rounds are timed on the CPU
 * clock. See bench/README.md.
 */
import { dispatch, query, spawnStateless, start, stop, type Ref } from 'nact';
import { NodeRuntime, route, silentLogger, type Context } from '../src';
import { BareMailbox } from './baselines/bare-mailbox';
import { startClock, type Suite } from './harness';

/**
 * Messages per one-way round, the same for every variant: about 0.1 s for Sealroute (far above the timer's
 * resolution) and under a second for nact, whose setImmediate per message dominates the suite's time.
 */
const ONEWAY_N = 300_000;
/** Round trips per request/reply round, the same for every variant (0.1-0.2 s for Sealroute). */
const REQUEST_REPLY_N = 100_000;
/** Sealroute's default, used for the bare mailbox too. */
const MAILBOX_CAPACITY = 1024;
/** nact's query insists on a timeout; long enough never to fire. */
const QUERY_TIMEOUT_MS = 30_000;

/** A counter that resolves `done` once it has counted `n`. */
function counter(n: number): { count: () => void; done: Promise<void> } {
  let received = 0;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const count = (): void => {
    if (++received === n) finish();
  };
  return { count, done };
}

async function withNode<T>(body: (node: NodeRuntime) => Promise<T>): Promise<T> {
  const node = new NodeRuntime({ logger: silentLogger });
  try {
    return await body(node);
  } finally {
    await node.stop();
  }
}

/** A detached context awaits each `send` to a worker whose synchronous handler counts. */
function sealrouteOneway(n: number): Promise<number> {
  return withNode(async (node) => {
    const { count, done } = counter(n);
    await node.startWorker('sink', { handleMessage: count });
    const ctx = node.context('producer');
    const sink = route('sink');
    const clock = startClock('cpu');
    for (let i = 0; i < n; i++) await ctx.send(sink, i);
    await done;
    return clock.perSecond(n);
  });
}

/** The same producer and consumer around the bare mailbox. */
async function bareOneway(n: number): Promise<number> {
  const { count, done } = counter(n);
  const sink = new BareMailbox<number>(MAILBOX_CAPACITY, count);
  const clock = startClock('cpu');
  for (let i = 0; i < n; i++) await sink.offer(i);
  await done;
  return clock.perSecond(n);
}

/** nact's dispatch returns nothing to await (no backpressure): the producer dispatches all, then waits. */
async function nactOneway(n: number): Promise<number> {
  const system = start();
  try {
    const { count, done } = counter(n);
    const sink = spawnStateless(system, count, 'sink');
    const clock = startClock('cpu');
    for (let i = 0; i < n; i++) dispatch(sink, i);
    await done;
    return clock.perSecond(n);
  } finally {
    stop(system);
  }
}

/** Sequential `request`s to an echoer that replies as real workers do: `await ctx.send(returnRoute, body)`. */
function sealrouteRequestReply(n: number): Promise<number> {
  return withNode(async (node) => {
    await node.startWorker('echoer', {
      async handleMessage(ctx: Context, msg) {
        await ctx.send(msg.returnRoute, msg.body);
      },
    });
    const ctx = node.context('client');
    const echoer = route('echoer');
    const clock = startClock('cpu');
    for (let i = 0; i < n; i++) await ctx.request(echoer, i);
    return clock.perSecond(n);
  });
}

interface BareRequest {
  readonly body: number;
  readonly reply: (body: number) => void;
}

/** A request is a promise whose resolver travels through the bare mailbox; the echoer calls it. */
async function bareRequestReply(n: number): Promise<number> {
  const echoer = new BareMailbox<BareRequest>(MAILBOX_CAPACITY, (request) => request.reply(request.body));
  const clock = startClock('cpu');
  for (let i = 0; i < n; i++) {
    await new Promise<number>((reply) => void echoer.offer({ body: i, reply }));
  }
  return clock.perSecond(n);
}

interface NactRequest {
  readonly body: number;
  readonly sender: Ref<number>;
}

/** nact's `query`: a temporary reference the echoer dispatches its reply to. */
async function nactRequestReply(n: number): Promise<number> {
  const system = start();
  try {
    const echoer = spawnStateless(system, (msg: NactRequest) => dispatch(msg.sender, msg.body), 'echoer');
    const clock = startClock('cpu');
    for (let i = 0; i < n; i++) {
      await query(echoer, (sender: Ref<number>): NactRequest => ({ body: i, sender }), QUERY_TIMEOUT_MS);
    }
    return clock.perSecond(n);
  } finally {
    stop(system);
  }
}

export const suite: Suite = {
  name: 'local',
  benchmarks: [
    {
      name: 'local.oneway',
      unit: 'msgs/cpu-s',
      candidate: () => sealrouteOneway(ONEWAY_N),
      baseline: { name: 'bare', round: () => bareOneway(ONEWAY_N) },
      comparisons: [{ name: 'nact', round: () => nactOneway(ONEWAY_N) }],
      goals: { atLeast: 5_000_000, ratioAtLeast: 0.6, timesAhead: { nact: 2 } },
    },
    {
      name: 'local.request_reply',
      unit: 'round trips/cpu-s',
      candidate: () => sealrouteRequestReply(REQUEST_REPLY_N),
      baseline: { name: 'bare', round: () => bareRequestReply(REQUEST_REPLY_N) },
      comparisons: [{ name: 'nact', round: () => nactRequestReply(REQUEST_REPLY_N) }],
      goals: { atLeast: 1_000_000, timesAhead: { nact: 2 } },
    },
  ],
};
