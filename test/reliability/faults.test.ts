import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import type { SecureChannel } from '../../src/channel/secure-channel';
import { RemoteForwarder } from '../../src/services/remote-forwarder';
import { handleChanges, lastingHandles, settledSample } from '../../reliability/lib/measure';
import { sampleNode } from '../../reliability/lib/node-sample';
import { numbered } from '../../reliability/lib/numbered';
import { describeReconciliation, reconcile, reconciled } from '../../reliability/lib/reconcile';
import { NumberedTraffic, errorLabel } from '../../reliability/lib/traffic';
import { waitFor } from '../helpers/async';
import { Cleanup } from '../helpers/tcp-fixtures';
import { CutProxy, startAlice, startBob, startHub } from './fixtures';
import { scaled } from '../helpers/slowdown';

// Thousands of connections, channels or registrations: a budget scaled by the machine's measured slowdown.
jest.setTimeout(scaled(60_000));

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Retries `attempt` until it resolves, for at most `timeoutMs`. */
async function retry<T>(attempt: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Samples of `npm run faults` (reliability/faults.ts), in one process over real TCP. */
describe('faults (sample of npm run faults)', () => {
  it('a hub lost mid-traffic: Bob registers again, senders see typed errors, nothing is lost silently', async () => {
    const firstHub = await startHub(cleanup);
    const proxy = await CutProxy.start(firstHub.address);
    cleanup.add(() => proxy.close());
    const bob = await startBob(cleanup, proxy.address, {
      forwarder: { name: 'bob', heartbeatIntervalMs: 200, heartbeatTimeoutMs: 500, reconnectMaxMs: 200 },
    });
    const alice = await startAlice(cleanup);
    const toBob = route([TCP, proxy.address], 'fwd.n.bob');
    let channel: SecureChannel = await alice.open(toBob);
    const traffic = new NumberedTraffic(
      (seq) => alice.ctx.request(route(channel, 'sink'), numbered(seq, 256, true), { timeout: 1_000 }),
      8,
    );
    traffic.start();
    await waitFor(() => traffic.status().acked >= 300, 10_000, 'traffic to flow');

    // The hub crashes: every connection through it fails at once, and its state is gone with it.
    const secondHub = await startHub(cleanup);
    proxy.retarget(secondHub.address);
    proxy.cut();
    await firstHub.node.stop();
    const oldChannel = channel;
    await waitFor(() => traffic.status().errored > 0, 5_000, 'a sender to see the loss');

    await waitFor(
      () => bob.forwarder.isRegistered && secondHub.service.forwarders().length === 1,
      10_000,
      'Bob to register with the new hub',
    );
    channel = await retry(() => alice.open(toBob, 2_000), 10_000);
    const recovered = traffic.status().acked;
    await waitFor(() => traffic.status().acked >= recovered + 300, 10_000, 'traffic to flow again');
    const outcome = await traffic.stop();

    const result = reconcile(outcome, bob.sink.seen, bob.sink.counts);
    expect({ reconciled: reconciled(result), result: describeReconciliation(result) }).toMatchObject({
      reconciled: true,
    });
    expect(result.lostErrorSeen + result.deliveredErrorSeen).toBeGreaterThan(0);
    const probe = await alice.ctx
      .request(route(oldChannel, 'echoer'), 'probe', { timeout: 500 })
      .then(() => 'answered', errorLabel);
    expect(probe).toMatch(/^(TimeoutError|NodeError:NO_ROUTE)/);
  });

  it('200 connect / register / unregister / disconnect cycles leave no connection, handle or listener behind', async () => {
    const hub = await startHub(cleanup);
    const clients = await Promise.all([startAlice(cleanup), startAlice(cleanup)]);
    const cycle = async (client: (typeof clients)[number]): Promise<void> => {
      await client.tcp.connect(hub.address);
      const forwarder = await RemoteForwarder.create(client.ctx, route([TCP, hub.address]), 'nowhere', {
        heartbeatIntervalMs: 3_600_000,
      });
      await forwarder.stop();
      await client.tcp.disconnect(hub.address);
    };
    const run = async (n: number): Promise<void> => {
      let next = 0;
      await Promise.all(
        clients.map(async (client) => {
          while (next++ < n) await cycle(client);
        }),
      );
      await waitFor(() => hub.tcp.connections().length === 0, 5_000, 'the hub to see every close');
    };

    await run(40); // warm-up
    const before = { process: await settledSample(), hub: await sampleNode(hub.node) };
    const clientsBefore = await Promise.all(clients.map((c) => sampleNode(c.node)));
    await run(200);
    const after = { process: await settledSample(), hub: await sampleNode(hub.node) };
    const clientsAfter = await Promise.all(clients.map((c) => sampleNode(c.node)));

    expect(hub.service.forwarders()).toEqual([]);
    expect(after.hub.workers).toBe(before.hub.workers);
    expect(after.hub.listeners).toEqual(before.hub.listeners);
    expect(clientsAfter.map((s) => [s.workers, s.listeners])).toEqual(
      clientsBefore.map((s) => [s.workers, s.listeners]),
    );
    expect(clients.map((c) => c.tcp.connections().length)).toEqual([0, 0]);
    expect(
      handleChanges(lastingHandles(before.process.handles), lastingHandles(after.process.handles)),
    ).toEqual([]);
    expect(after.process.heapUsed - before.process.heapUsed).toBeLessThan(1024 * 1024);
  });
});
