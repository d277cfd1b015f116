import { TCP } from '../../src/core/address';
import { SealrouteError } from '../../src/core/errors';
import { route } from '../../src/core/route';
import type { SecureChannel } from '../../src/channel/secure-channel';
import type { ConnectionClosedEvent } from '../../src/transport/tcp/tcp-transport';
import { startAlice, startBob, type Alice } from '../helpers/alice-and-bob';
import { waitFor, within } from '../helpers/async';
import { scaled } from '../helpers/slowdown';
import { HUB_LISTENING, startHubExample } from '../helpers/spawned-example';
import { Cleanup } from '../helpers/tcp-fixtures';

// The hub of examples/hub.ts as a real process, killed outright (SIGKILL: no goodbye on any connection) while
// Alice is sending through it, then started again on the same port. Bob and Alice are in-process nodes.

// Real processes on a busy machine: a budget scaled by its measured slowdown.
jest.setTimeout(scaled(90_000));

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/**
 * The typed errors a request through a dead channel may end with: its timeout, no route at once, or the
 * connection it was queued on closing under it (a delivery failure notice from Alice's own transport).
 */
const typed = {
  timeout: { name: 'TimeoutError', code: 'TIMEOUT' },
  noRoute: { name: 'NodeError', code: 'NO_ROUTE' },
  connectionLost: { name: 'NodeError', code: 'CONNECTION_LOST' },
};
const anyTyped = Object.values(typed);
const pick = (error: unknown) => ({ name: (error as Error).name, code: (error as { code?: string }).code });

/** What became of one request of the traffic: its echo, or the error it was rejected with. */
type Outcome =
  { readonly text: string; readonly echo: unknown } | { readonly text: string; readonly error: unknown };

/** Requests through `channel`, one after another, until `stop()`; every outcome is kept. */
function traffic(alice: Alice, channel: SecureChannel) {
  const outcomes: Outcome[] = [];
  let running = true;
  const done = (async () => {
    for (let i = 0; running; i++) {
      const text = `message ${i}`;
      try {
        outcomes.push({ text, echo: await alice.echo(channel, text, 500) });
      } catch (error) {
        outcomes.push({ text, error });
        // A closed channel fails requests at once; a real client backs off, and so does this one.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  })();
  return {
    outcomes,
    echoed: () => outcomes.filter((o) => 'echo' in o).length,
    failed: () => outcomes.filter((o) => 'error' in o).length,
    stop: () => {
      running = false;
      return within(done, 5_000, 'the traffic to stop');
    },
  };
}

describe('a hub process killed in the middle of traffic and restarted on the same port', () => {
  it('Bob registers again as fwd.n.bob by himself; Alice’s old channel fails typed; a new channel works', async () => {
    const hub = startHubExample(cleanup, '127.0.0.1:0');
    const address = (await hub.waitForLine(HUB_LISTENING, 30_000))[1]!;
    const bob = await startBob(cleanup, address, {
      forwarder: {
        name: 'bob',
        heartbeatIntervalMs: 200,
        heartbeatTimeoutMs: 1_000,
        registrationTimeoutMs: 2_000,
        reconnectInitialMs: 100,
        reconnectMaxMs: 500,
      },
    });
    expect(bob.forwarder.forwardingAddress).toBe('fwd.n.bob');
    const alice = await startAlice(cleanup);
    const toBob = route([TCP, address], 'fwd.n.bob');
    const channel = await alice.open(toBob, bob.identity);

    const closedAtAlice = new Promise<ConnectionClosedEvent>((resolve) =>
      alice.tcp.once('connectionClosed', resolve),
    );
    const lost = new Promise<Error>((resolve) => bob.forwarder.once('lost', resolve));
    const load = traffic(alice, channel);
    await waitFor(() => load.echoed() >= 5, 10_000, 'echoes before the crash');

    expect(await hub.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    // Both ends notice at once, from their own sockets, and say why.
    expect(await within(closedAtAlice, 5_000, 'Alice to notice')).toMatchObject({
      remote: address,
      outgoing: true,
      reason: { name: 'TransportError', code: 'CONNECTION_CLOSED' },
    });
    expect(await within(lost, 5_000, 'Bob to notice')).toBeInstanceOf(SealrouteError);
    await waitFor(() => load.failed() >= 1, 5_000, 'a request to fail while the hub is down');

    const registered = new Promise<string>((resolve) =>
      bob.forwarder.on('registered', (at) => bob.forwarder.isRegistered && resolve(at)),
    );
    const restarted = startHubExample(cleanup, address);
    expect((await restarted.waitForLine(HUB_LISTENING, 30_000))[1]).toBe(address);
    expect(await within(registered, 15_000, 'Bob to register again')).toBe('fwd.n.bob');
    await load.stop();

    // The old channel ran over connections that are gone: a request through it fails with a typed error.
    const received = bob.received.length;
    const dropped = alice.node.deadLetters.count;
    const error = await alice.echo(channel, 'through the old channel', 2_000).catch((e: unknown) => e);
    expect(anyTyped).toContainEqual(pick(error));
    // Its message went nowhere and is counted: the channel's route starts at Alice's old connection, now
    // gone, so the channel closed itself ('failed', CONNECTION_LOST) when that connection's worker stopped.
    expect(alice.node.deadLetters.count).toBeGreaterThan(dropped);
    expect(await within(channel.closed(), 2_000, 'the old channel to close')).toBe('failed');
    expect(channel.closeError?.code).toBe('CONNECTION_LOST');
    expect(bob.received.length).toBe(received);

    // Every request of the traffic either got its exact echo or was rejected with a typed error.
    for (const outcome of load.outcomes) {
      if ('echo' in outcome) expect(outcome.echo).toBe(outcome.text);
      else expect(anyTyped).toContainEqual(pick(outcome.error));
    }
    // Bob's echoer only ever received what Alice sent, from Alice, each at most once.
    const sent = new Set(load.outcomes.map((o) => o.text));
    const bodies = bob.received.map((r) => r.body as string);
    expect(bodies.every((body) => sent.has(body))).toBe(true);
    expect(new Set(bodies).size).toBe(bodies.length);
    expect(bob.received.every((r) => r.from === alice.identity.identifier)).toBe(true);

    const fresh = await alice.open(toBob, bob.identity);
    expect(await alice.echo(fresh, 'after the restart')).toBe('after the restart');
    expect(bob.received.at(-1)).toEqual({ body: 'after the restart', from: alice.identity.identifier });

    expect(await restarted.stop('SIGINT')).toEqual({ code: 0, signal: null });
  });
});
