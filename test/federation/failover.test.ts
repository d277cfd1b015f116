import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { startAlice } from '../helpers/alice-and-bob';
import { waitFor, within } from '../helpers/async';
import { natsServerAvailable, startNatsServer } from '../helpers/nats-server';
import { scaled } from '../helpers/slowdown';
import { SpawnedExample } from '../helpers/spawned-example';
import { Cleanup } from '../helpers/tcp-fixtures';
import { startFederatedBob, startHub, through, waitForRoute } from './fixtures';

// A hub as a real process (to be killed with SIGKILL) on a busy machine: a budget scaled by its slowdown.
jest.setTimeout(scaled(60_000));

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const describeWithNats = natsServerAvailable() ? describe : describe.skip;

const LISTENING = /^Hub (\S+) listening on (\S+)$/;

describeWithNats('a federation when a hub is killed', () => {
  it('makes Bob reachable through another hub within 3 s of a kill -9, misdelivers nothing, reports losses', async () => {
    const nats = await startNatsServer(cleanup);
    const processHub = SpawnedExample.start('examples/federated-hub.ts', {
      args: ['c', nats.url, '127.0.0.1:0'],
      env: { SEALROUTE_LOG: 'warn' },
    });
    cleanup.add(() => processHub.stop('SIGKILL'));
    const a = await startHub(cleanup, [nats.url], 'a');
    const b = await startHub(cleanup, [nats.url], 'b');
    const c = (await processHub.waitForLine(LISTENING, scaled(30_000)))[2]!;

    // Bob registers at c first, b next; Carol lives on b (she must receive none of Bob's traffic).
    const bob = await startFederatedBob(cleanup, [c, b.address], 'bob', { deliverTo: ['listener', 'raw'] });
    const raw: unknown[] = [];
    await bob.node.startWorker(
      'raw',
      {
        handleMessage: (ctx, message) => {
          raw.push(message.body);
          return ctx.send(message.returnRoute, message.body);
        },
      },
      { acceptsTransportMessages: true },
    );
    const carol = await startFederatedBob(cleanup, [b.address], 'carol');
    expect(bob.forwarder.hub).toBe(c);
    await waitForRoute(a, 'bob', 'c');

    const alice = await startAlice(cleanup);
    const before = await alice.open(through(a.address, 'bob', 'listener'), bob.identity);
    expect(await alice.echo(before, 'before')).toBe('before');

    // Plain frames to Bob's `raw` worker through hub a, every 10 ms, across the kill: each one either reaches
    // Bob once or is counted lost by the federation.
    const toRaw = route([TCP, a.address], 'fwd.n.bob', 'raw');
    let sent = 0;
    let streaming = true;
    const stream = (async () => {
      while (streaming) {
        await alice.ctx.send(toRaw, `frame ${sent++}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    await waitFor(() => raw.length >= 5, 5_000);

    const moved = new Promise<string>((resolve) => bob.forwarder.on('registered', (hub) => resolve(hub)));
    const killedAt = Date.now();
    expect(await processHub.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await within(moved, scaled(5_000), 'Bob to register at hub b')).toBe(b.address);

    // Reachable again through hub a, on the route Alice already had: a new channel echoes.
    let reachableAfter = -1;
    for (;;) {
      const channel = await alice
        .open(through(a.address, 'bob', 'listener'), bob.identity, { timeout: 500 })
        .catch(() => undefined);
      if (
        channel !== undefined &&
        (await alice.echo(channel, 'after', 1_000).catch(() => undefined)) === 'after'
      ) {
        reachableAfter = Date.now() - killedAt;
        break;
      }
      if (Date.now() - killedAt > scaled(10_000)) break;
    }
    console.log(
      `federation failover: Bob reachable through hub a ${reachableAfter} ms after kill -9 of hub c`,
    );
    expect(reachableAfter).toBeGreaterThan(0);
    expect(reachableAfter).toBeLessThanOrEqual(scaled(3_000));

    streaming = false;
    await stream;
    // Hub a ends c's lease, and counts what c never acknowledged.
    await waitFor(() => a.hub.federation.stats().peers === 1, 10_000);
    await waitFor(() => raw.length + a.hub.federation.stats().lostTotal >= sent, 5_000).catch(
      () => undefined,
    );

    const stats = a.hub.federation.stats();
    const frames = raw.filter((body) => String(body).startsWith('frame '));
    console.log(
      `federation failover: ${sent} frames sent, ${frames.length} reached Bob, ${stats.lostTotal} counted lost ` +
        `(${JSON.stringify(stats.lost)})`,
    );
    // Nothing misdelivered: Bob got each frame at most once, Carol none, and every missing one was counted.
    expect(new Set(frames).size).toBe(frames.length);
    expect(carol.received).toEqual([]);
    expect(bob.received.every((r) => r.from === alice.identity.identifier)).toBe(true);
    expect(sent - frames.length).toBeGreaterThan(0);
    expect(stats.lostTotal).toBeGreaterThanOrEqual(sent - frames.length);
  });
});
