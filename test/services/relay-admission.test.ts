import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import {
  Identity,
  TrustedAuthorities,
  fixedCredentials,
  issueCredential,
  type CredentialProvider,
} from '../../src/identity';
import { ForwardingService } from '../../src/services/forwarding-service';
import { relayAdmission } from '../../src/services/relay-admission';
import { RemoteForwarder } from '../../src/services/remote-forwarder';
import { InMemoryVault } from '../../src/vault';
import { waitFor } from '../helpers/async';
import { scaled } from '../helpers/slowdown';
import {
  Cleanup,
  FAST_FORWARDER,
  startEchoer,
  startTcpNode,
  type TcpTestNode,
} from '../helpers/tcp-fixtures';
import { renewableCredentials } from '../helpers/renewable-credentials';

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

async function register(
  hub: TcpTestNode,
  name: string | undefined,
  credential?: Uint8Array | CredentialProvider,
  identity = bob,
) {
  const node = await startTcpNode(cleanup, { listen: false });
  await startEchoer(node.node, 'listener');
  const provider = credential instanceof Uint8Array ? fixedCredentials([credential]) : credential;
  const forwarder = await RemoteForwarder.create(node.ctx, route([TCP, hub.address]), 'listener', {
    ...FAST_FORWARDER,
    ...(name === undefined ? {} : { name, identity }),
    ...(provider === undefined ? {} : { credential: provider }),
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

describe('a hub with an authority, while a forwarder lives', () => {
  // Long enough to register on a loaded machine; the hub's skew allowance is 0 here.
  const ttl = scaled(1_500);

  it('stops forwarding when the relay credential expires unrenewed (logged and counted)', async () => {
    const { hub, service } = await hubWithAuthority();
    const expiresAt = Date.now() + ttl;
    const credential = await relayCredential('bob', { ttlMs: ttl });
    await register(hub, 'bob', credential);
    const alice = await startTcpNode(cleanup, { listen: false });
    const viaHub = route([TCP, hub.address], 'fwd.n.bob');
    await alice.ctx.send(viaHub, 'before');
    expect((await alice.ctx.receive({ timeout: scaled(5_000) })).body).toBe('before');

    await waitFor(() => service.stats().admissionsExpired === 1, ttl + 5_000, 'the drop at expiry');
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    expect(service.forwarders()).toHaveLength(0);
    expect(
      hub.logger.at('warn').find((e) => e.msg === 'forwarder dropped: its admission expired')?.obj,
    ).toMatchObject({ forwarder: 'fwd.n.bob', owner: bob.identifier });
    // Nothing reaches Bob by the name any more; his forwarder's attempts to come back with the expired
    // credential are refused.
    await alice.ctx.send(viaHub, 'after');
    await expect(alice.ctx.receive({ timeout: scaled(1_000) })).rejects.toMatchObject({ code: 'TIMEOUT' });
    await waitFor(() => service.stats().refused.NOT_AUTHORIZED > 0, 5_000, 'a refused re-registration');
    expect(service.forwarders()).toHaveLength(0);
  });

  it('keeps forwarding past the first expiry when the credential is renewed (the forwarder registers again)', async () => {
    const { hub, service } = await hubWithAuthority();
    const firstExpiry = Date.now() + ttl;
    const provider = renewableCredentials(await relayCredential('bob', { ttlMs: ttl }));
    await register(hub, 'bob', provider);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstExpiry - ttl / 2 - Date.now())));
    provider.renew(await relayCredential('bob', { ttlMs: 60_000 }));
    await waitFor(() => service.stats().reattached === 1, 5_000, 'the registration with the renewal');
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstExpiry + scaled(500) - Date.now())));
    expect(service.stats().admissionsExpired).toBe(0);
    expect(service.forwarders().map((f) => f.address.value)).toEqual(['fwd.n.bob']);
    const alice = await startTcpNode(cleanup, { listen: false });
    await alice.ctx.send(route([TCP, hub.address], 'fwd.n.bob'), 'after');
    expect((await alice.ctx.receive({ timeout: scaled(5_000) })).body).toBe('after');
  });
});
