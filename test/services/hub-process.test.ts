import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { RemoteForwarder } from '../../src/services/remote-forwarder';
import { within } from '../helpers/async';
import { scaled } from '../helpers/slowdown';
import { SpawnedExample } from '../helpers/spawned-example';
import { Cleanup, startEchoer, startTcpNode } from '../helpers/tcp-fixtures';

// Real processes on a busy machine: a budget scaled by its measured slowdown.
jest.setTimeout(scaled(90_000));

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const LISTENING = /^Hub listening on (\S+)$/;

function startHub(options: { args?: string[]; env?: NodeJS.ProcessEnv } = {}): SpawnedExample {
  const hub = SpawnedExample.start('examples/hub.ts', {
    ...options,
    env: { SEALROUTE_LOG: 'warn', ...options.env },
  });
  cleanup.add(() => hub.stop('SIGKILL'));
  return hub;
}

describe('examples/hub.ts as a process', () => {
  it('survives being killed: restarted on the same port, Bob registers again by himself', async () => {
    const hub = startHub({ args: ['127.0.0.1:0'] });
    const address = (await hub.waitForLine(LISTENING, 30_000))[1]!;
    expect(address).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);

    const bob = await startTcpNode(cleanup, { listen: false });
    await startEchoer(bob.node, 'listener');
    const forwarder = await RemoteForwarder.create(bob.ctx, route([TCP, address]), 'listener', {
      name: 'bob',
      heartbeatIntervalMs: 200,
      heartbeatTimeoutMs: 2_000,
      reconnectInitialMs: 100,
      reconnectMaxMs: 500,
    });
    cleanup.add(() => forwarder.stop());
    const alice = await startTcpNode(cleanup, { listen: false });
    await alice.ctx.send(route([TCP, address], 'fwd.n.bob'), 'before the crash');
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toBe('before the crash');

    const lost = new Promise<void>((resolve) => forwarder.once('lost', () => resolve()));
    const registeredAgain = new Promise<string>((resolve) =>
      forwarder.on('registered', (at) => forwarder.isRegistered && resolve(at)),
    );
    expect(await hub.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    await within(lost, 10_000, 'Bob to notice the hub is gone');

    // The address comes from SEALROUTE_HUB this time (no argument).
    const restarted = startHub({ env: { SEALROUTE_HUB: address } });
    expect((await restarted.waitForLine(LISTENING, 30_000))[1]).toBe(address);
    expect(await within(registeredAgain, 15_000, 'Bob to register with the restarted hub')).toBe('fwd.n.bob');

    await alice.ctx.send(route([TCP, address], 'fwd.n.bob'), 'after the restart');
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toBe('after the restart');

    // Ctrl-C / SIGTERM stop it gracefully.
    expect(await restarted.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
