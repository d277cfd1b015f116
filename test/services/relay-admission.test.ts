import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { Identity, TrustedAuthorities, fixedCredentials, issueCredential } from '../../src/identity';
import { ForwardingService } from '../../src/services/forwarding-service';
import { relayAdmission } from '../../src/services/relay-admission';
import { RemoteForwarder } from '../../src/services/remote-forwarder';
import { InMemoryVault } from '../../src/vault';
import {
  Cleanup,
  FAST_FORWARDER,
  startEchoer,
  startTcpNode,
  type TcpTestNode,
} from '../helpers/tcp-fixtures';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

let vault: InMemoryVault;
let authority: Identity;
let stranger: Identity;
let bob: Identity;
beforeAll(async () => {
  vault = await InMemoryVault.create();
  [authority, stranger, bob] = await Promise.all([1, 2, 3].map(() => Identity.create(vault)));
});

async function hubWithAuthority(): Promise<{ hub: TcpTestNode; service: ForwardingService }> {
  const hub = await startTcpNode(cleanup);
  const service = await ForwardingService.create(hub.ctx, 'forwarding_service', {
    admit: relayAdmission(TrustedAuthorities.of(vault, [authority]), { clockSkewMs: 0 }),
  });
  return { hub, service };
}

async function register(hub: TcpTestNode, name: string | undefined, credential?: Uint8Array, identity = bob) {
  const node = await startTcpNode(cleanup, { listen: false });
  await startEchoer(node.node, 'listener');
  const forwarder = await RemoteForwarder.create(node.ctx, route([TCP, hub.address]), 'listener', {
    ...FAST_FORWARDER,
    ...(name === undefined ? {} : { name, identity }),
    ...(credential === undefined ? {} : { credential: fixedCredentials([credential]) }),
  });
  cleanup.add(() => forwarder.stop());
  return forwarder;
}

const relayCredential = (
  relay: string,
  options: { subject?: Identity; issuer?: Identity; ttlMs?: number } = {},
) =>
  issueCredential(
    options.issuer ?? authority,
    (options.subject ?? bob).identifier,
    { relay },
    {
      ttlMs: options.ttlMs ?? 60_000,
    },
  );

describe('a hub with an authority', () => {
  it('admits a named forwarder whose credential gives relay=<name> or relay=*', async () => {
    const { hub, service } = await hubWithAuthority();
    expect((await register(hub, 'bob', await relayCredential('bob'))).remoteAddress.value).toBe('fwd.n.bob');
    expect((await register(hub, 'anything', await relayCredential('*'))).remoteAddress.value).toBe(
      'fwd.n.anything',
    );
    expect(service.stats().refused.NOT_AUTHORIZED).toBe(0);
  });

  it.each([
    ['without a credential', async () => undefined],
    ['with relay=alice', async () => relayCredential('alice')],
    ['with an expired credential', async () => relayCredential('bob', { ttlMs: 1 })],
    ["with another identity's credential", async () => relayCredential('bob', { subject: stranger })],
    ['with a credential from an unknown issuer', async () => relayCredential('bob', { issuer: stranger })],
  ])('refuses a relay name registered %s (NOT_AUTHORIZED)', async (_label, make) => {
    const { hub, service } = await hubWithAuthority();
    const credential = await make();
    await new Promise((resolve) => setTimeout(resolve, 5)); // the 1 ms credential has expired
    await expect(register(hub, 'bob', credential)).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    expect(service.stats().refused.NOT_AUTHORIZED).toBe(1);
    expect(service.forwarders()).toHaveLength(0);
  });

  it('refuses a random-address registration, which proves no identity', async () => {
    const { hub } = await hubWithAuthority();
    await expect(register(hub, undefined)).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
  });

  it('behaves as before without an authority', async () => {
    const hub = await startTcpNode(cleanup);
    await ForwardingService.create(hub.ctx, 'forwarding_service');
    expect((await register(hub, 'bob')).remoteAddress.value).toBe('fwd.n.bob');
    expect((await register(hub, undefined)).remoteAddress.value).toMatch(/^fwd\.r\./);
  });
});
