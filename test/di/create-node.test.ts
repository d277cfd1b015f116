import {
  Context,
  DiError,
  LOGGER,
  Node,
  NodeRuntime,
  Routed,
  Worker,
  codecs,
  createNode,
  inject,
  injectable,
  run,
  silentLogger,
  type Logger,
  type NodeApplication,
} from '../../src';
import { CapturingLogger } from '../helpers/capturing-logger';
import { waitFor, within } from '../helpers/async';

@injectable()
class Shouter {
  shout(text: string): string {
    return text.toUpperCase();
  }
}

@Worker({ address: 'shouter', message: codecs.string })
class ShoutingEchoer implements Worker<string> {
  constructor(
    private readonly shouter: Shouter,
    readonly node: NodeRuntime,
    @inject(LOGGER) readonly logger: Logger,
  ) {}

  async handleMessage(ctx: Context, msg: Routed<string>): Promise<void> {
    await ctx.send(msg.returnRoute, this.shouter.shout(msg.body));
  }
}

const nodes: NodeRuntime[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((node) => node.stop()));
});

function newDiNode(logger: Logger = silentLogger) {
  const created = createNode({ logger });
  nodes.push(created.node);
  return created;
}

/** The DiError a start rejects with. */
async function diError(start: Promise<unknown>): Promise<DiError> {
  const error = await start.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(DiError);
  return error as DiError;
}

describe('createNode', () => {
  it('builds a @Worker class with its injected service and starts it at its declared address', async () => {
    const { node } = newDiNode();
    const ctx = await node.startWorker(ShoutingEchoer);
    expect(ctx.address.key).toBe('0#shouter');
    const reply = await within(node.context().request<string>('shouter', 'hello', { timeout: 1_000 }), 2_000);
    expect(reply.body).toBe('HELLO');
  });

  it('injects the node and its logger', async () => {
    const logger = new CapturingLogger();
    const { node, container } = newDiNode(logger);
    await node.startWorker(ShoutingEchoer);
    const worker = container.resolve(ShoutingEchoer); // a second instance, built the same way
    expect(worker.node).toBe(node);
    expect(worker.logger).toBe(logger);
  });

  it('applies the options declared in @Worker (here the body codec)', async () => {
    const { node } = newDiNode();
    await node.startWorker(ShoutingEchoer);
    await node.context().send('shouter', 42);
    expect(node.deadLetters.countOf('wrong-body-type')).toBe(1);
  });

  it('starts a worker at an address given instead of the declared one', async () => {
    const { node } = newDiNode();
    const ctx = await node.startWorker(ShoutingEchoer, { address: 'loud' });
    expect(ctx.address.key).toBe('0#loud');
    expect(node.hasWorker('shouter')).toBe(false);
    const both = await node.startWorker(ShoutingEchoer, { address: ['a', 'b'] });
    expect(both.addresses.map((a) => a.key)).toEqual(['0#a', '0#b']);
    const reply = await within(node.context().request<string>('b', 'via b', { timeout: 1_000 }), 2_000);
    expect(reply.body).toBe('VIA B');
  });

  it('resolves services registered in the node container', async () => {
    const GREETING = Symbol('greeting');
    @Worker({ address: 'greeter' })
    class Greeter implements Worker<string> {
      constructor(@inject(GREETING) private readonly greeting: string) {}
      handleMessage(ctx: Context, msg: Routed<string>): Promise<unknown> {
        return ctx.send(msg.returnRoute, `${this.greeting}, ${msg.body}`);
      }
    }
    const { node, container } = newDiNode();
    container.registerInstance(GREETING, 'hello');
    await node.startWorker(Greeter);
    const reply = await within(node.context().request('greeter', 'bob', { timeout: 1_000 }), 2_000);
    expect(reply.body).toBe('hello, bob');
  });

  it('refuses a worker class with no address anywhere, saying where to give one', async () => {
    @Worker()
    class Nameless implements Worker {
      handleMessage(): void {}
    }
    const { node } = newDiNode();
    await expect(node.startWorker(Nameless)).rejects.toThrow(/@Worker\(\{ address \}\)/);
    expect((await node.startWorker(Nameless, { address: 'named' })).address.key).toBe('0#named');
  });

  describe('misuse', () => {
    it('refuses an undecorated class with NOT_DECORATED, naming the decorator', async () => {
      class Undecorated implements Worker {
        handleMessage(): void {}
      }
      const { node } = newDiNode();
      const error = await diError(node.startWorker(Undecorated));
      expect(error.code).toBe('NOT_DECORATED');
      expect(error.origin).toBe('di');
      expect(error.message).toContain('Undecorated');
      expect(error.message).toContain('@Worker()');
    });

    it('refuses an interface-typed parameter with UNRESOLVED_DEPENDENCY, pointing at @inject', async () => {
      interface Clock {
        now(): number;
      }
      @Worker({ address: 'timed' })
      class Timed implements Worker {
        constructor(readonly clock: Clock) {}
        handleMessage(): void {}
      }
      const { node } = newDiNode();
      const error = await diError(node.startWorker(Timed));
      expect(error.code).toBe('UNRESOLVED_DEPENDENCY');
      expect(error.message).toContain('Timed');
      expect(error.message).toContain('@inject(token)');
      expect(error.cause).toBeInstanceOf(Error);
      expect(node.hasWorker('timed')).toBe(false);
    });

    it('refuses a dependency that is not injectable (a class with a primitive parameter)', async () => {
      class Port {
        constructor(readonly port: number) {}
      }
      @Worker({ address: 'listener' })
      class Listener implements Worker {
        constructor(readonly port: Port) {}
        handleMessage(): void {}
      }
      const { node } = newDiNode();
      const error = await diError(node.startWorker(Listener));
      expect(error.code).toBe('UNRESOLVED_DEPENDENCY');
      expect(error.message).toContain('Listener');
      expect(error.message).toContain('Port');
      expect(error.message).toContain('@injectable()');
    });

    it('refuses a class compiled without decorator metadata with NO_PARAM_TYPES', async () => {
      // Decorated by hand: TypeScript emits design:paramtypes only for classes with decorators in the source,
      // exactly like a build that drops decorator metadata (esbuild, tsx).
      class Manual implements Worker {
        constructor(readonly shouter: Shouter) {}
        handleMessage(): void {}
      }
      Worker({ address: 'manual' })(Manual);
      expect(Reflect.getMetadata('design:paramtypes', Manual)).toBeUndefined();
      const { node } = newDiNode();
      const error = await diError(node.startWorker(Manual));
      expect(error.code).toBe('NO_PARAM_TYPES');
      expect(error.message).toContain('emitDecoratorMetadata');
    });

    it('builds a class decorated by hand when its constructor takes nothing', async () => {
      class NoArgs implements Worker {
        handleMessage(): void {}
      }
      Worker({ address: 'no-args' })(NoArgs);
      const { node } = newDiNode();
      expect((await node.startWorker(NoArgs)).address.key).toBe('0#no-args');
    });
  });
});

describe('run', () => {
  it('builds a @Node application by injection and calls main with a context on a started node', async () => {
    let seen: { ctx: Context; reply: unknown; shouter: Shouter } | undefined;
    @Node({ stopOnSignals: false })
    class App implements NodeApplication {
      constructor(private readonly shouter: Shouter) {}
      async main(ctx: Context): Promise<void> {
        await ctx.startWorker(ShoutingEchoer);
        const reply = await ctx.request('shouter', 'from main', { timeout: 1_000 });
        seen = { ctx, reply: reply.body, shouter: this.shouter };
      }
    }
    const node = await within(run(App, { logger: silentLogger }), 5_000, 'run');
    nodes.push(node);
    expect(seen?.reply).toBe('FROM MAIN');
    expect(seen?.ctx.address.key).toBe('0#app');
    expect(seen?.shouter).toBeInstanceOf(Shouter);
    expect(node.isStopped).toBe(false); // the node lives on after main until something stops it
  });

  it('stops on signals by default and releases the handlers when the node stops', async () => {
    const before = process.listenerCount('SIGINT');
    @Node()
    class App implements NodeApplication {
      main(): void {}
    }
    const node = await within(run(App, { logger: silentLogger }), 5_000, 'run');
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    await node.stop();
    expect(process.listenerCount('SIGINT')).toBe(before);
  });

  it('rejects for an undecorated application class', async () => {
    class NotAnApp implements NodeApplication {
      main(): void {}
    }
    const error = await diError(run(NotAnApp, { logger: silentLogger }));
    expect(error.code).toBe('NOT_DECORATED');
    expect(error.message).toContain('@Node()');
  });

  it('logs a failing main, stops the node and sets a failing exit code', async () => {
    const logger = new CapturingLogger();
    const exitCode = process.exitCode;
    try {
      @Node({ stopOnSignals: false })
      class Broken implements NodeApplication {
        async main(): Promise<void> {
          throw new Error('main blew up');
        }
      }
      const node = await within(run(Broken, { logger }), 5_000, 'run');
      expect(node.isStopped).toBe(true);
      expect(process.exitCode).toBe(1);
      await waitFor(() => logger.at('error').length === 1);
      expect(logger.at('error')[0]!.msg).toContain('Broken.main failed');
    } finally {
      process.exitCode = exitCode;
    }
  });
});
