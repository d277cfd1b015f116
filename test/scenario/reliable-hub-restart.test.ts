import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { fromSecureChannel } from '../../src/channel/access';
import { nextListenerEvent, startAlice, startBob } from '../helpers/alice-and-bob';
import { waitFor, within } from '../helpers/async';
import { scaled } from '../helpers/slowdown';
import { HUB_LISTENING, startHubExample } from '../helpers/spawned-example';
import { Cleanup } from '../helpers/tcp-fixtures';

// The hub of examples/hub.ts as a real process, killed outright (SIGKILL) while Alice sends through a
// reliable channel to Bob's named forwarder, then started again on the same port: the same channel, with the
// same keys, resumes once Bob's forwarder is back, and Bob's worker gets every message once, in order.

jest.setTimeout(scaled(120_000));

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const MESSAGES = 3_000;

describe('a reliable channel through a hub process killed mid-traffic and restarted', () => {
  it('loses nothing, duplicates nothing and keeps the order; the channel stays open', async () => {
    const hub = startHubExample(cleanup, '127.0.0.1:0');
    const address = (await hub.waitForLine(HUB_LISTENING, scaled(30_000)))[1]!;
    const retransmitInterval = 200;
    const bob = await startBob(cleanup, address, {
      listener: { retransmitInterval, peerTimeout: scaled(60_000) },
      forwarder: {
        name: 'bob',
        heartbeatIntervalMs: 200,
        heartbeatTimeoutMs: 1_000,
        registrationTimeoutMs: 2_000,
        reconnectInitialMs: 100,
        reconnectMaxMs: 500,
      },
    });
    const sunk: number[] = [];
    await bob.node.startWorker(
      'sink',
      { handleMessage: (_ctx, message) => void sunk.push(message.body as number) },
      { access: fromSecureChannel() },
    );
    const alice = await startAlice(cleanup);
    const bobSide = nextListenerEvent(bob.listener, 'channelOpened');
    const channel = await alice.open(route([TCP, address], 'fwd.n.bob'), bob.identity, {
      delivery: 'reliable',
      retransmitInterval,
      peerTimeout: scaled(60_000),
      // Small, so that Alice's sends wait out the outage (backpressure) and go on after it.
      maxUnackedBytes: 4_096,
    });
    const bobChannel = await bobSide;

    let sent = 0;
    const sending = (async () => {
      for (; sent < MESSAGES; sent++) await channel.send(alice.ctx, 'sink', sent);
    })();
    sending.catch(() => undefined);
    await waitFor(() => sunk.length >= 300, scaled(20_000), 'traffic before the crash');

    expect(await hub.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    const sentAtCrash = sent;
    const restarted = startHubExample(cleanup, address);
    expect((await restarted.waitForLine(HUB_LISTENING, scaled(30_000)))[1]).toBe(address);

    await within(sending, scaled(60_000), 'every message to be sent');
    await waitFor(() => sunk.length >= MESSAGES, scaled(60_000), 'every message to arrive');
    // A moment for any duplicate to show up before judging.
    await waitFor(() => channel.reliability!.unackedFrames === 0, scaled(10_000), 'all acknowledged');
    expect(sunk.length).toBe(MESSAGES);
    expect(sunk).toEqual(Array.from({ length: MESSAGES }, (_, i) => i));
    // It was the same channel all along, and traffic crossed the crash: Alice was held back during it.
    expect(channel.isClosed || bobChannel.isClosed).toBe(false);
    expect(sentAtCrash).toBeLessThan(MESSAGES);
    expect(channel.reliability!.retransmitted).toBeGreaterThan(0);

    expect(await restarted.stop('SIGINT')).toEqual({ code: 0, signal: null });
  });
});
