import { startAlice } from '../helpers/alice-and-bob';
import { natsServerAvailable, startNatsCluster, type NatsServer } from '../helpers/nats-server';
import { scaled } from '../helpers/slowdown';
import { Cleanup } from '../helpers/tcp-fixtures';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
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

/** The name of the server that leads `stream` now. */
async function streamLeader(servers: readonly NatsServer[], stream: string): Promise<string> {
  const nc = await connect({ servers: servers.map((s) => s.url) });
  try {
    const info = await (await jetstreamManager(nc)).streams.info(stream);
    const leader = info.cluster?.leader;
    if (leader === undefined) throw new Error(`${stream} has no leader`);
    return leader;
  } finally {
    await nc.close();
  }
}

describeWithNats('a federation on a 3-node NATS cluster', () => {
  it('resumes registrations within 10 s of a kill -9 of the NATS server that leads the bucket', async () => {
    const servers = await startNatsCluster(cleanup);
    // The bucket with 3 replicas, once the cluster has a JetStream meta leader.
    await whenReady(async () => {
      const bus = await connectNats({ servers: servers.map((s) => s.url) });
      try {
        await bus.names('sealroute-names', { replicas: 3, maxBytes: 64 << 20, maxValueSize: 1024 });
      } finally {
        await bus.close();
      }
    }, scaled(30_000));
    // The worst server to lose: the leader of the bucket's stream (the others elect a new one, which takes
    // NATS seconds), and the one both hubs are connected to (they reconnect, and a request written to the
    // dying connection is never answered).
    const leader = await streamLeader(servers, 'KV_sealroute-names');
    const victim = servers.find((s) => s.name === leader)!;
    const urls = [victim, ...servers.filter((s) => s !== victim)].map((s) => s.url);
    const hub = (name: string): Promise<TestHub> =>
      startHub(cleanup, urls, name, { replicas: 3, client: { noRandomize: true } });
    const a = await hub('a');
    const b = await hub('b');
    const bob = await startFederatedBob(cleanup, [a.address], 'bob');
    await waitForRoute(b, 'bob', 'a');

    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    // A new registration at hub a: Dave's forwarder retries (jittered) until the federation records names again.
    const dave = await startFederatedBob(cleanup, [a.address], 'dave', { registrationTimeoutMs: 2_000 });
    const resumedAfter = Date.now() - killedAt;
    console.log(`federation: registrations resumed ${resumedAfter} ms after kill -9 of the bucket's leader`);
    expect(resumedAfter).toBeLessThanOrEqual(scaled(10_000));

    // Both names work through the other hub.
    await waitForRoute(b, 'dave', 'a', 10_000).catch((err: Error) => {
      const seen = `hub b sees dave at ${b.hub.federation.whereIs('dave')}, ${b.hub.federation.stats().peers} peers`;
      throw new Error(`${err.message}: ${seen}`);
    });
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
