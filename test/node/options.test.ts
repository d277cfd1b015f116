import { NodeError, NodeRuntime, TcpTransport, silentLogger, type NodeOptions } from '../../src';

describe('NodeRuntime options', () => {
  it.each<[keyof NodeOptions, unknown, string]>([
    ['mailboxCapacity', -5, 'NodeOptions.mailboxCapacity must be an integer in 1..1073741824, got -5'],
    ['mailboxCapacity', 0, 'NodeOptions.mailboxCapacity must be an integer in 1..1073741824, got 0'],
    ['mailboxCapacity', 1.5, 'NodeOptions.mailboxCapacity must be an integer in 1..1073741824, got 1.5'],
    ['sendTimeoutMs', -1, 'NodeOptions.sendTimeoutMs must be an integer in 0..2147483647, got -1'],
    ['defaultTimeoutMs', NaN, 'NodeOptions.defaultTimeoutMs must be an integer in 0..2147483647, got NaN'],
    [
      'stopTimeoutMs',
      2 ** 31,
      'NodeOptions.stopTimeoutMs must be an integer in 0..2147483647, got 2147483648',
    ],
    ['turnBudget', 0, 'NodeOptions.turnBudget must be an integer in 1..9007199254740991, got 0'],
    ['yieldBudget', '10', 'NodeOptions.yieldBudget must be an integer in 1..9007199254740991, got 10'],
  ])('rejects %s = %p at construction, naming the option and its range', (name, value, message) => {
    const build = (): NodeRuntime => new NodeRuntime({ logger: silentLogger, [name]: value } as NodeOptions);
    expect(build).toThrow(NodeError);
    expect(build).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', message }));
  });

  it('accepts the bounds of each range', async () => {
    const node = new NodeRuntime({
      logger: silentLogger,
      mailboxCapacity: 1,
      sendTimeoutMs: 0,
      defaultTimeoutMs: 2_147_483_647,
      stopTimeoutMs: 0,
      turnBudget: 1,
      yieldBudget: 1,
    });
    await node.startWorker('echoer', { handleMessage: (ctx, msg) => ctx.send(msg.returnRoute, msg.body) });
    expect((await node.context().request('echoer', 'ping', { timeout: 5_000 })).body).toBe('ping');
    await node.stop();
  });

  it("rejects a worker's mailboxCapacity out of range when the worker starts", async () => {
    const node = new NodeRuntime({ logger: silentLogger });
    await expect(
      node.startWorker('w', { handleMessage: () => undefined }, { mailboxCapacity: -5 }),
    ).rejects.toMatchObject({
      name: 'NodeError',
      code: 'INVALID_OPTION',
      message: 'WorkerOptions.mailboxCapacity must be an integer in 1..1073741824, got -5',
    });
    expect(node.workers()).toEqual([]);
    await node.stop();
  });
});

describe('one transport per address type', () => {
  it('says that a TCP transport already exists when one is created twice on a node', async () => {
    const node = new NodeRuntime({ logger: silentLogger });
    await TcpTransport.create(node);
    const second = TcpTransport.create(node);
    await expect(second).rejects.toBeInstanceOf(NodeError);
    await expect(second).rejects.toMatchObject({
      code: 'ADDRESS_IN_USE',
      message: expect.stringMatching(/^this node already has a TCP transport .*create one transport per/),
    });
    await node.stop();
  });
});
