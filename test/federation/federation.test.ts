import { within } from '../helpers/async';
import { startAlice } from '../helpers/alice-and-bob';
import { natsServerAvailable, startNatsServer } from '../helpers/nats-server';
import { scaled } from '../helpers/slowdown';
import { Cleanup } from '../helpers/tcp-fixtures';
import { captureProxy, startFederatedBob, startHub, through, waitForRoute } from './fixtures';

jest.setTimeout(scaled(30_000));

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const describeWithNats = natsServerAvailable() ? describe : describe.skip;

describeWithNats('a federation of hubs on NATS', () => {
  it('carries a channel from Alice on hub A to Bob on hub C, and NATS sees no plaintext', async () => {
    const nats = await startNatsServer(cleanup);
    const capturedA = await captureProxy(cleanup, nats.url);
    const capturedC = await captureProxy(cleanup, nats.url);
    const a = await startHub(cleanup, [capturedA.url], 'a', { client: { ignoreClusterUpdates: true } });
    const c = await startHub(cleanup, [capturedC.url], 'c', { client: { ignoreClusterUpdates: true } });
    const bob = await startFederatedBob(cleanup, [c.address], 'bob');
    expect(bob.forwarder.hub).toBe(c.address);
    await waitForRoute(a, 'bob', 'c');

    const alice = await startAlice(cleanup);
    const channel = await alice.open(through(a.address, 'bob', 'listener'), bob.identity);
    const secret = 'the plaintext that only Bob may read';
    expect(await within(alice.echo(channel, secret), scaled(5_000), 'the echo')).toBe(secret);
    expect(bob.received).toEqual([{ body: secret, from: alice.identity.identifier }]);

    const fa = a.hub.federation.stats();
    const fc = c.hub.federation.stats();
    expect(fa.sent).toBeGreaterThan(0);
    expect(fc.sent).toBeGreaterThan(0);
    expect(fa.lostTotal + fc.lostTotal).toBe(0);
    for (const captured of [capturedA.bytes(), capturedC.bytes()]) {
      // Hub-to-hub frames did cross this connection, and none of them holds the plaintext.
      expect(captured.includes('sealroute.hub.')).toBe(true);
      expect(captured.includes(secret)).toBe(false);
      expect(captured.includes(Buffer.from(secret, 'utf16le'))).toBe(false);
    }
  });
});
