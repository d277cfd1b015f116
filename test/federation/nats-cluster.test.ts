import { startAlice } from '../helpers/alice-and-bob';
import { natsServerAvailable, startNatsCluster } from '../helpers/nats-server';
import { scaled } from '../helpers/slowdown';
import { Cleanup } from '../helpers/tcp-fixtures';
import { connectNats } from '../../src/federation/nats-bus';
import { startFederatedBob, startHub, through, waitForRoute, type TestHub } from './fixtures';

jest.setTimeout(scaled(90_000));

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const describeWithNats = natsServerAvailable() ? describe : describe.skip;

/** Retries `start` until the new cluster has elected its JetStream leaders (or `ms` ran out). */
async function whenReady<T>(start: () => Promise<T>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await start();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

describeWithNats('a federation on a 3-node NATS cluster', () => {
  it('resumes registrations within 10 s of a kill -9 of one NATS server', async () => {
    const servers = await startNatsCluster(cleanup);
    const urls = servers.map((s) => s.url);
    // The bucket with 3 replicas, once the cluster has a JetStream meta leader.
    await whenReady(async () => {
      const bus = await connectNats({ servers: urls });
      try {
        await bus.names('sealroute-names', { replicas: 3, maxBytes: 64 << 20, maxValueSize: 1024 });
      } finally {
        await bus.close();
      }
    }, scaled(30_000));
    // Both hubs prefer the first server (no randomizing), the one that is killed.
    const hub = (name: string): Promise<TestHub> =>
      startHub(cleanup, urls, name, { replicas: 3, client: { noRandomize: true } });
    const a = await hub('a');
    const b = await hub('b');
    const bob = await startFederatedBob(cleanup, [a.address], 'bob');
    await waitForRoute(b, 'bob', 'a');

    const killedAt = Date.now();
    await servers[0]!.kill('SIGKILL');
    // A new registration at hub a: Dave's forwarder retries (jittered) until the federation records names again.
    const dave = await startFederatedBob(cleanup, [a.address], 'dave', { registrationTimeoutMs: 2_000 });
    const resumedAfter = Date.now() - killedAt;
    console.log(`federation: registrations resumed ${resumedAfter} ms after kill -9 of one NATS server of 3`);
    expect(resumedAfter).toBeLessThanOrEqual(scaled(10_000));

    // Both names work through the other hub.
    await waitForRoute(b, 'dave', 'a', 10_000);
    const alice = await startAlice(cleanup);
    for (const [name, owner] of [
      ['bob', bob],
      ['dave', dave],
    ] as const) {
      const channel = await alice.open(through(b.address, name, 'listener'), owner.identity);
      expect(await alice.echo(channel, `hello ${name}`)).toBe(`hello ${name}`);
    }
  });
});
