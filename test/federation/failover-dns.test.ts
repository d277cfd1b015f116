import { createServer, type AddressInfo } from 'node:net';
import { FailoverForwarder } from '../../src/federation/failover-forwarder';
import { Identity } from '../../src/identity';
import { ForwardingService } from '../../src/services/forwarding-service';
import { InMemoryVault } from '../../src/vault';
import { within } from '../helpers/async';
import { scaled } from '../helpers/slowdown';
import { Cleanup, FAST_FORWARDER, startEchoer, startTcpNode } from '../helpers/tcp-fixtures';

jest.setTimeout(scaled(20_000));

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A plain hub on 127.0.0.1: its port. */
async function startHubPort(): Promise<string> {
  const hub = await startTcpNode(cleanup);
  await ForwardingService.create(hub.ctx, 'forwarding_service');
  return hub.address.split(':')[1]!;
}

/** A port of 127.0.0.1 nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Bob's node with an echoing listener, and his identity. */
async function startBobNode() {
  const bob = await startTcpNode(cleanup, { listen: false });
  await startEchoer(bob.node, 'listener');
  const identity = await Identity.create(await InMemoryVault.create());
  return { ...bob, identity };
}

describe('FailoverForwarder with hubs given by name', () => {
  it('resolves a hub given by name again at each round, until it has an address', async () => {
    const port = await startHubPort();
    const bob = await startBobNode();
    const asked: string[] = [];
    let records: string[] = []; // no address yet: the first round finds nothing to try
    const forwarder = FailoverForwarder.create(bob.ctx, [`hubs.test:${port}`], 'listener', {
      ...FAST_FORWARDER,
      name: 'bob',
      identity: bob.identity,
      backoffInitialMs: 20,
      backoffMaxMs: 50,
      resolve: async (host) => {
        asked.push(host);
        if (asked.length === 2) records = ['127.0.0.1']; // the record appears before the next round
        return records;
      },
    });
    void forwarder.then((f) => cleanup.add(() => f.stop()));
    const registered = await within(forwarder, scaled(10_000), 'registration');
    expect(registered.hub).toBe(`127.0.0.1:${port}`);
    expect(asked.length).toBeGreaterThanOrEqual(2);
    expect(asked.every((host) => host === 'hubs.test')).toBe(true);
  });

  it('skips a name that does not resolve and registers at the next hub', async () => {
    const port = await startHubPort();
    const bob = await startBobNode();
    const dead = await deadPort();
    const forwarder = await within(
      FailoverForwarder.create(bob.ctx, [`nowhere.test:${dead}`, `hubs.test:${port}`], 'listener', {
        ...FAST_FORWARDER,
        name: 'bob',
        identity: bob.identity,
        shuffle: false,
        resolve: async (host) => {
          if (host === 'nowhere.test')
            throw Object.assign(new Error('queryA ENOTFOUND'), { code: 'ENOTFOUND' });
          return ['127.0.0.1'];
        },
      }),
      scaled(10_000),
      'registration',
    );
    cleanup.add(() => forwarder.stop());
    expect(forwarder.hub).toBe(`127.0.0.1:${port}`);
  });

  it('gives up a name whose resolver hangs (resolveTimeoutMs) and goes on with the next', async () => {
    const port = await startHubPort();
    const bob = await startBobNode();
    const tried: string[] = [];
    const forwarder = await within(
      FailoverForwarder.create(bob.ctx, [`hangs.test:${port}`, `next.test:${port}`], 'listener', {
        ...FAST_FORWARDER,
        name: 'bob',
        identity: bob.identity,
        shuffle: false,
        resolveTimeoutMs: 50,
        resolve: (host) => {
          tried.push(host);
          if (host === 'hangs.test') return new Promise<never>(() => undefined); // never answers
          return Promise.resolve(['127.0.0.1']);
        },
      }),
      scaled(10_000),
      'registration',
    );
    cleanup.add(() => forwarder.stop());
    expect(forwarder.hub).toBe(`127.0.0.1:${port}`);
    expect(tried.slice(0, 2)).toEqual(['hangs.test', 'next.test']);
  });

  it("uses the system's resolver by default (localhost)", async () => {
    const port = await startHubPort();
    const bob = await startBobNode();
    const forwarder = await within(
      FailoverForwarder.create(bob.ctx, [`localhost:${port}`], 'listener', {
        ...FAST_FORWARDER,
        name: 'bob',
        identity: bob.identity,
        backoffInitialMs: 20,
      }),
      scaled(10_000),
      'registration',
    );
    cleanup.add(() => forwarder.stop());
    // localhost may also resolve to ::1, where nothing listens: the IPv4 address is the one that took it.
    expect(forwarder.hub).toBe(`127.0.0.1:${port}`);
  });

  it('refuses a hub that is not host:port', async () => {
    const bob = await startBobNode();
    await expect(
      FailoverForwarder.create(bob.ctx, ['hubs.test'], 'listener', { name: 'bob', identity: bob.identity }),
    ).rejects.toMatchObject({ name: 'FederationError', code: 'INVALID_OPTIONS' });
  });
});

describe('FailoverForwarder.create', () => {
  it.each([
    [{ backoffInitialMs: 200, backoffMaxMs: 100 }, /backoffMaxMs must not be below backoffInitialMs/],
    [{ registerTimeoutMs: 0 }, /registerTimeoutMs must be an integer in 1\.\.3600000, got 0/],
    [{ resolveTimeoutMs: 1.5 }, /resolveTimeoutMs must be an integer/],
  ])('refuses timings out of range (%p)', async (timings, message) => {
    const bob = await startBobNode();
    await expect(
      FailoverForwarder.create(bob.ctx, ['127.0.0.1:1'], 'listener', {
        name: 'bob',
        identity: bob.identity,
        ...timings,
      }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTIONS', message: expect.stringMatching(message) });
  });

  it('gives up with UNREACHABLE when no hub takes the name within registerTimeoutMs', async () => {
    const bob = await startBobNode();
    const dead = await deadPort();
    const started = Date.now();
    await expect(
      within(
        FailoverForwarder.create(bob.ctx, [`127.0.0.1:${dead}`], 'listener', {
          ...FAST_FORWARDER,
          name: 'bob',
          identity: bob.identity,
          backoffInitialMs: 20,
          backoffMaxMs: 50,
          registerTimeoutMs: 300,
        }),
        scaled(10_000),
        'the refusal',
      ),
    ).rejects.toMatchObject({ name: 'FederationError', code: 'UNREACHABLE' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });
});
