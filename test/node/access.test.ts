import {
  LocalMessage,
  TRANSPORT_INFO,
  codecs,
  denyAll,
  route,
  type AccessRule,
  type Context,
  type DeadLetter,
  type Routed,
  type Worker,
} from '../../src';
import { nextTurn, waitFor } from '../helpers/async';
import { newNode, stopNodes } from '../helpers/nodes';

afterEach(stopNodes);

class Recorder implements Worker {
  readonly bodies: unknown[] = [];
  handleMessage(_ctx: Context, message: Routed): void {
    this.bodies.push(message.body);
  }
}

/** A message as a transport would hand it on: with `localInfo[TRANSPORT_INFO]` set. */
function fromTransport(to: string, body: unknown): LocalMessage {
  return new LocalMessage(route(to), route('1#203.0.113.7:9000'), body, {
    [TRANSPORT_INFO]: { connection: 'tcp-1' },
  });
}

function lettersOf(node: ReturnType<typeof newNode>): DeadLetter[] {
  const letters: DeadLetter[] = [];
  node.deadLetters.on('deadLetter', (letter) => letters.push(letter));
  return letters;
}

describe('NodeRuntime access rules', () => {
  it('drops and counts a message a rule refuses, with the rule name and reason', async () => {
    const node = newNode();
    const letters = lettersOf(node);
    const sink = new Recorder();
    const onlyAlice: AccessRule = {
      name: 'only-alice',
      check: (m) => m.returnRoute.next?.value === 'alice' || 'sender is not alice',
    };
    await node.startWorker('guarded', sink, { access: onlyAlice });
    await node.context('mallory').send('guarded', 'let me in');
    await node.context('alice').send('guarded', 'hi');
    await waitFor(() => sink.bodies.length === 1);
    expect(sink.bodies).toEqual(['hi']);
    expect(node.deadLetters.countOf('access-denied')).toBe(1);
    expect(letters[0]!.detail).toContain('only-alice');
    expect(letters[0]!.detail).toContain('sender is not alice');
    expect(letters[0]!.message.body).toBe('let me in');
  });

  it('refuses everything with denyAll', async () => {
    const node = newNode();
    const sink = new Recorder();
    await node.startWorker('closed', sink, { access: denyAll });
    await node.context().send('closed', 'x');
    await nextTurn();
    expect(sink.bodies).toEqual([]);
    expect(node.deadLetters.countOf('access-denied')).toBe(1);
  });

  it('waits for an asynchronous rule, keeping order and one message at a time', async () => {
    const node = newNode();
    const sink = new Recorder();
    const evenOnly: AccessRule = {
      name: 'even-only',
      check: async (m) => {
        await new Promise((resolve) => setTimeout(resolve, (m.body as number) % 3));
        return (m.body as number) % 2 === 0 || 'odd';
      },
    };
    await node.startWorker('async-guarded', sink, {
      access: [{ name: 'sync', check: () => true }, evenOnly],
    });
    const ctx = node.context();
    for (let i = 0; i < 20; i++) await ctx.send('async-guarded', i);
    await waitFor(() => sink.bodies.length + node.deadLetters.countOf('access-denied') === 20);
    expect(sink.bodies).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(node.deadLetters.countOf('access-denied')).toBe(10);
  });

  it('checks the rules after an asynchronous one, in order', async () => {
    const node = newNode();
    const letters = lettersOf(node);
    const sink = new Recorder();
    await node.startWorker('w', sink, {
      access: [
        { name: 'first', check: async () => true },
        { name: 'second', check: async () => false },
        { name: 'third', check: () => 'unreachable' },
      ],
    });
    await node.context().send('w', 'x');
    await waitFor(() => letters.length === 1);
    expect(letters[0]!.detail).toContain('second');
    expect(sink.bodies).toEqual([]);
  });

  it.each([
    [
      'throws',
      (): boolean => {
        throw new Error('rule exploded');
      },
    ],
    ['rejects', (): Promise<boolean> => Promise.reject(new Error('rule exploded'))],
  ])('counts a message as refused when a rule %s', async (_how, check) => {
    const node = newNode();
    const letters = lettersOf(node);
    const sink = new Recorder();
    await node.startWorker('w', sink, { access: { name: 'explosive', check } });
    await node.context().send('w', 'x');
    await node.context().send('w', 'y');
    await waitFor(() => letters.length === 2, 2_000, 'two refusals');
    expect(letters.map((l) => l.reason)).toEqual(['access-denied', 'access-denied']);
    expect(letters[0]!.detail).toContain('explosive');
    expect(letters[0]!.detail).toContain('rule exploded');
    expect(sink.bodies).toEqual([]);
  });

  it('counts a message as refused when a later rule, after an asynchronous one, fails', async () => {
    const node = newNode();
    const letters = lettersOf(node);
    await node.startWorker('w', new Recorder(), {
      access: [
        { name: 'async-ok', check: async () => true },
        {
          name: 'broken',
          check: () => {
            throw new Error('later rule exploded');
          },
        },
      ],
    });
    await node.context().send('w', 'x');
    await waitFor(() => letters.length === 1, 2_000, 'a refusal');
    expect(letters[0]!.reason).toBe('access-denied');
    expect(letters[0]!.detail).toContain('broken');
  });

  it('refuses a message from a transport connection unless the worker accepts transport messages', async () => {
    const node = newNode();
    const letters = lettersOf(node);
    const internal = new Recorder();
    const listener = new Recorder();
    await node.startWorker('internal', internal);
    let localInfo: unknown;
    await node.startWorker(
      'listener',
      {
        handleMessage: (ctx, m) => {
          localInfo = m.localInfo;
          listener.handleMessage(ctx, m);
        },
      },
      { acceptsTransportMessages: true },
    );
    const ctx = node.context();
    await ctx.forward(fromTransport('internal', 'attack'));
    await ctx.forward(fromTransport('listener', 'hello'));
    await ctx.send('internal', 'local is fine');
    await waitFor(() => listener.bodies.length === 1 && internal.bodies.length === 1);
    expect(internal.bodies).toEqual(['local is fine']);
    expect(listener.bodies).toEqual(['hello']);
    expect(localInfo).toEqual({ [TRANSPORT_INFO]: { connection: 'tcp-1' } });
    expect(node.deadLetters.countOf('access-denied')).toBe(1);
    expect(letters[0]!.detail).toContain('transport');
    expect(letters[0]!.message.body).toBe('attack');
  });

  it('refuses transport messages at a detached context unless it opts in', async () => {
    const node = newNode();
    const closed = node.context('closed');
    const open = node.context('open', { acceptsTransportMessages: true });
    await node.context().forward(fromTransport('closed', 'x'));
    await node.context().forward(fromTransport('open', 'y'));
    expect(node.deadLetters.countOf('access-denied')).toBe(1);
    expect((await open.receive({ timeout: 1_000 })).body).toBe('y');
    await expect(closed.receive({ timeout: 5 })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('drops a body of another kind than the worker codec as wrong-body-type', async () => {
    const node = newNode();
    const letters = lettersOf(node);
    const sink = new Recorder();
    await node.startWorker('strings', sink, { message: codecs.string });
    const ctx = node.context();
    await ctx.send('strings', 42);
    await ctx.send('strings', new Uint8Array([1]));
    await ctx.send('strings', 'text');
    await waitFor(() => sink.bodies.length === 1);
    expect(sink.bodies).toEqual(['text']);
    expect(node.deadLetters.countOf('wrong-body-type')).toBe(2);
    expect(letters[0]!.detail).toContain('string');
  });

  it('drops a body as wrong-body-type when the codec guard throws, and goes on', async () => {
    const node = newNode();
    const sink = new Recorder();
    // A careless guard: it throws for null, which a peer can send.
    const careless = codecs.structured('ping', (value: unknown): value is { ping: number } => {
      return typeof (value as { ping: unknown }).ping === 'number';
    });
    await node.startWorker('pings', sink, { message: careless });
    await node.context().send('pings', null);
    await node.context().send('pings', { ping: 1 });
    await waitFor(() => sink.bodies.length === 1);
    expect(sink.bodies).toEqual([{ ping: 1 }]);
    expect(node.deadLetters.countOf('wrong-body-type')).toBe(1);
  });

  it('checks the codec after an asynchronous rule too', async () => {
    const node = newNode();
    const sink = new Recorder();
    await node.startWorker('strings', sink, {
      message: codecs.string,
      access: { name: 'async', check: async () => true },
    });
    await node.context().send('strings', { not: 'a string' });
    await node.context().send('strings', 'ok');
    await waitFor(() => sink.bodies.length === 1);
    expect(node.deadLetters.countOf('wrong-body-type')).toBe(1);
  });
});
