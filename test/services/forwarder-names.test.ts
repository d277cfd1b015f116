import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, TCP } from '../../src/core/address';
import { LocalMessage, TRANSPORT_INFO } from '../../src/core/message';
import { route } from '../../src/core/route';
import { Identity } from '../../src/identity/identity';
import { ServicesError } from '../../src/services/errors';
import { nameClaimStatement, type ForwardingReply } from '../../src/services/forwarding-messages';
import {
  ForwardingService,
  sourceOf,
  type ForwardingServiceOptions,
} from '../../src/services/forwarding-service';
import { RemoteForwarder, type RemoteForwarderOptions } from '../../src/services/remote-forwarder';
import { FileVault } from '../../src/vault/file-vault';
import { InMemoryVault } from '../../src/vault/in-memory-vault';
import { nextForwarderEvent } from '../helpers/alice-and-bob';
import { waitFor, within } from '../helpers/async';
import {
  Cleanup,
  FAST_FORWARDER,
  startEchoer,
  startTcpNode,
  type TcpTestNode,
} from '../helpers/tcp-fixtures';

// Issue 8, items 3 and 5c: forwarder hijack after a blip or a restart, and names that a flood cannot block.
// Every attack runs against a hub on real sockets, and the honest Bob is served throughout.

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const FAST = FAST_FORWARDER;
/** No heartbeat within a test: the forwarder does not come back by itself. */
const QUIET: RemoteForwarderOptions = { ...FAST, heartbeatIntervalMs: 600_000 };

type Hub = TcpTestNode & { service: ForwardingService };

async function startHub(options: ForwardingServiceOptions = {}): Promise<Hub> {
  const hub = await startTcpNode(cleanup);
  const service = await ForwardingService.create(hub.ctx, 'forwarding_service', options);
  return { ...hub, service };
}

type Client = TcpTestNode & { forwarder: RemoteForwarder; seen: Awaited<ReturnType<typeof startEchoer>> };

/** A node that only connects out, with an echoing `listener`, registered at the hub. */
async function startClient(hub: Hub, options: RemoteForwarderOptions = {}): Promise<Client> {
  const node = await startTcpNode(cleanup, { listen: false });
  const seen = await startEchoer(node.node, 'listener');
  const forwarder = await RemoteForwarder.create(node.ctx, route([TCP, hub.address]), 'listener', {
    ...FAST,
    ...options,
  });
  cleanup.add(() => forwarder.stop());
  return { ...node, forwarder, seen };
}

function register(node: TcpTestNode, hub: Hub, options: RemoteForwarderOptions): Promise<unknown> {
  return RemoteForwarder.create(node.ctx, route([TCP, hub.address]), 'listener', {
    ...FAST,
    ...options,
  }).then(
    (forwarder) => {
      cleanup.add(() => forwarder.stop());
      return forwarder;
    },
    (err: unknown) => err,
  );
}

/** Drops the hub's end of every connection (Bob's blip: his forwarders go, their slots stay reserved). */
async function dropClients(hub: Hub): Promise<void> {
  for (const connection of hub.tcp.connections().filter((c) => !c.outgoing)) {
    await hub.tcp.disconnect(connection.address);
  }
  await waitFor(() => hub.service.forwarders().length === 0, 5_000, 'the forwarders to go');
}

async function echoThroughHub(alice: TcpTestNode, hub: Hub, address: string, text: string): Promise<unknown> {
  await alice.ctx.send(route([TCP, hub.address], address), text);
  return (await alice.ctx.receive({ timeout: 5_000 })).body;
}

/** Raw protocol: one request from `node` to the hub's service, and its reply. */
async function ask(node: TcpTestNode, hub: Hub, body: object): Promise<ForwardingReply> {
  const nonce = randomBytes(16).toString('hex');
  await node.ctx.send(route([TCP, hub.address], 'forwarding_service'), { v: 2, nonce, ...body });
  for (;;) {
    const reply = await node.ctx.receive({ timeout: 5_000 });
    if ((reply.body as { nonce?: string }).nonce === nonce) return reply.body as ForwardingReply;
  }
}

async function signedClaim(node: TcpTestNode, hub: Hub, identity: Identity, name: string) {
  const challenge = await ask(node, hub, { type: 'challenge' });
  if (challenge.type !== 'challenge') throw new Error(`no challenge: ${JSON.stringify(challenge)}`);
  const statement = nameClaimStatement(challenge.hub, challenge.challenge, name, identity.publicKey);
  return { challenge: challenge.challenge, key: identity.publicKey, sig: await identity.sign(statement) };
}

async function newIdentity(): Promise<Identity> {
  return Identity.create(await InMemoryVault.create());
}

describe('random forwarders', () => {
  it('live apart from names: a stranger cannot register Bob’s random address as a name after his blip', async () => {
    const hub = await startHub();
    const bob = await startClient(hub);
    const address = bob.forwarder.forwardingAddress;
    expect(address).toMatch(/^fwd\.r\.[0-9a-f]{32}$/);
    const registeredAgain = nextForwarderEvent(bob.forwarder, 'registered');

    await dropClients(hub);
    // Mallory, at once: the 32 hex digits as a name land in the other namespace; the address with a wrong
    // token or none gets a new address of its own.
    const mallory = await startTcpNode(cleanup, { listen: false });
    await startEchoer(mallory.node, 'listener');
    const hex = address.slice('fwd.r.'.length);
    const asName = (await register(mallory, hub, { name: hex })) as RemoteForwarder;
    expect(asName.forwardingAddress).toBe(`fwd.n.${hex}`);
    for (const token of [undefined, randomBytes(16).toString('hex')]) {
      const reply = await ask(mallory, hub, { type: 'register', address, ...(token ? { token } : {}) });
      expect(reply).toMatchObject({ type: 'registered' });
      expect((reply as { address: string }).address).not.toBe(address);
    }

    // Bob re-attaches to his address with his token, by himself.
    expect(await within(registeredAgain, 5_000, 'Bob to re-attach')).toBe(address);
    const alice = await startTcpNode(cleanup, { listen: false });
    expect(await echoThroughHub(alice, hub, address, 'for Bob')).toBe('for Bob');
    expect(bob.seen.map((m) => m.body)).toEqual(['for Bob']);
    expect(hub.service.stats()).toMatchObject({ reattached: 1 });
  });

  it('expire after the grace period, and their slots are freed', async () => {
    const hub = await startHub({ reattachGraceMs: 300, maxForwardersPerSource: 1 });
    const bob = await startClient(hub, QUIET);
    const address = bob.forwarder.forwardingAddress;
    await dropClients(hub);
    expect(hub.service.stats()).toMatchObject({ live: 0, reserved: 1 });

    // While reserved, Bob's slot counts for his source: another registration from it is refused.
    const carol = await startTcpNode(cleanup, { listen: false });
    expect(await register(carol, hub, {})).toMatchObject({ code: 'LIMIT_REACHED' });

    await waitFor(() => hub.service.stats().expired === 1, 5_000, 'the reservation to expire');
    expect(hub.service.stats()).toMatchObject({ live: 0, reserved: 0 });
    const carols = (await register(carol, hub, {})) as RemoteForwarder;
    expect(carols.forwardingAddress).not.toBe(address);
  });
});

describe('names bound to an identity', () => {
  it('cannot be taken by anyone else, held or reserved, with or without an identity', async () => {
    const hub = await startHub();
    const bobIdentity = await newIdentity();
    const bob = await startClient(hub, { ...QUIET, name: 'bob', identity: bobIdentity });
    expect(bob.forwarder.forwardingAddress).toBe('fwd.n.bob');
    expect(hub.service.forwarders()[0]!.owner).toBe(bobIdentity.identifier);

    const mallory = await startTcpNode(cleanup, { listen: false });
    const malloryIdentity = await newIdentity();
    const attempts = async () => {
      expect(await register(mallory, hub, { name: 'bob' })).toMatchObject({ code: 'NAME_TAKEN' });
      expect(await register(mallory, hub, { name: 'bob', identity: malloryIdentity })).toMatchObject({
        code: 'NAME_TAKEN',
      });
    };
    await attempts();
    await dropClients(hub); // Bob is away
    await attempts();
    // Even a stolen token is no use: a bound name needs the identity.
    expect(hub.service.stats().refused.NAME_TAKEN).toBe(4);
    expect(mallory.node.workers().filter((a) => a.value.startsWith('rf.'))).toHaveLength(0);

    // Bob comes back (a new node, the same identity) and gets his name at once.
    const bobAgain = await startClient(hub, { ...QUIET, name: 'bob', identity: bobIdentity });
    expect(bobAgain.forwarder.forwardingAddress).toBe('fwd.n.bob');
    const alice = await startTcpNode(cleanup, { listen: false });
    expect(await echoThroughHub(alice, hub, 'fwd.n.bob', 'hello Bob')).toBe('hello Bob');
    expect(bobAgain.seen).toHaveLength(1);
  });

  it('go back at once to a restarted Bob (same FileVault identity), before the hub noticed the old one gone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealroute-fwd-'));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));
    const vaultPath = join(dir, 'bob.vault');
    const key = { key: new Uint8Array(32).fill(7) };
    const hub = await startHub();

    const vault1 = await FileVault.open(vaultPath, key);
    const identity1 = await Identity.getOrCreate(vault1);
    const oldBob = await startClient(hub, { ...QUIET, name: 'bob', identity: identity1 });
    await vault1.close(); // the old process's vault is gone with it; its connection is still up

    const vault2 = await FileVault.open(vaultPath, key);
    cleanup.add(() => vault2.close());
    const identity2 = await Identity.getOrCreate(vault2);
    expect(identity2.identifier).toBe(identity1.identifier);
    const started = Date.now();
    const newBob = await startClient(hub, { ...QUIET, name: 'bob', identity: identity2 });
    expect(newBob.forwarder.forwardingAddress).toBe('fwd.n.bob');
    expect(Date.now() - started).toBeLessThan(5_000); // at once: no reservation to wait out

    const alice = await startTcpNode(cleanup, { listen: false });
    expect(await echoThroughHub(alice, hub, 'fwd.n.bob', 'to the new Bob')).toBe('to the new Bob');
    expect(newBob.seen).toHaveLength(1);
    expect(oldBob.seen).toHaveLength(0);
  });

  it('stay reserved for their identity when Bob stops, until he asks the hub to forget them', async () => {
    const hub = await startHub();
    const identity = await newIdentity();
    const bob = await startClient(hub, { ...QUIET, name: 'bob', identity });
    const mallory = await startTcpNode(cleanup, { listen: false });
    await bob.forwarder.stop();
    expect(hub.service.stats()).toMatchObject({ live: 0, boundNames: 1 });
    expect(await register(mallory, hub, { name: 'bob' })).toMatchObject({ code: 'NAME_TAKEN' });

    const again = (await register(bob, hub, { ...QUIET, name: 'bob', identity })) as RemoteForwarder;
    await again.stop({ forgetName: true });
    expect(hub.service.stats()).toMatchObject({ boundNames: 0, reserved: 0 });
    expect(await register(mallory, hub, { name: 'bob' })).toBeInstanceOf(RemoteForwarder);
  });

  it('cannot be claimed with a replayed, misdirected, expired or mismatched proof', async () => {
    const hub = await startHub({ challengeTtlMs: 300 });
    const bob = await startTcpNode(cleanup, { listen: false });
    const mallory = await startTcpNode(cleanup, { listen: false });
    const identity = await newIdentity();
    const other = await newIdentity();

    const claim = await signedClaim(bob, hub, identity, 'bob');
    expect(await ask(bob, hub, { type: 'register', name: 'bob', claim })).toMatchObject({
      type: 'registered',
      address: 'fwd.n.bob',
      owner: identity.identifier,
    });
    const badProof = { type: 'refused', code: 'BAD_PROOF' };
    // Replayed: a challenge is good once.
    expect(await ask(bob, hub, { type: 'register', name: 'bob', claim })).toMatchObject(badProof);
    // Misdirected: a challenge issued on Bob's connection, presented on Mallory's.
    const bobs = await signedClaim(bob, hub, identity, 'bob');
    expect(await ask(mallory, hub, { type: 'register', name: 'bob', claim: bobs })).toMatchObject(badProof);
    // Mismatched: signed for another name, or by another key than the one presented.
    const forAlice = await signedClaim(bob, hub, identity, 'alice');
    expect(await ask(bob, hub, { type: 'register', name: 'bob2', claim: forAlice })).toMatchObject(badProof);
    const byOther = await signedClaim(bob, hub, other, 'bob3');
    expect(
      await ask(bob, hub, { type: 'register', name: 'bob3', claim: { ...byOther, key: identity.publicKey } }),
    ).toMatchObject(badProof);
    // Expired.
    const late = await signedClaim(bob, hub, identity, 'bob4');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await ask(bob, hub, { type: 'register', name: 'bob4', claim: late })).toMatchObject(badProof);

    expect(hub.service.stats().refused.BAD_PROOF).toBe(5);
    expect(hub.service.forwarders().map((f) => f.address.value)).toEqual(['fwd.n.bob']);
  });
});

describe('a slow admission hook (a federation claiming the name far away)', () => {
  /** A hub whose hook holds registrations of names starting with `slow` until `release()`. */
  async function hubWithSlowHook(): Promise<Hub & { release(): void; waiting(): number }> {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let waiting = 0;
    const hub = await startHub({
      admit: async ({ name }) => {
        if (!name?.startsWith('slow')) return undefined;
        waiting++;
        await gate;
        return undefined;
      },
    });
    return { ...hub, release: open, waiting: () => waiting };
  }

  it('does not hold up the other clients of the hub while it decides', async () => {
    const hub = await hubWithSlowHook();
    const slow = await startTcpNode(cleanup, { listen: false });
    const pending = register(slow, hub, { name: 'slow', identity: await newIdentity() });
    await waitFor(() => hub.waiting() === 1, 5_000, 'the hook to hold the registration');

    // Meanwhile the service answers challenges and registers other names.
    const carol = await startTcpNode(cleanup, { listen: false });
    expect((await ask(carol, hub, { type: 'challenge' })).type).toBe('challenge');
    const dave = await startClient(hub, { ...QUIET, name: 'dave', identity: await newIdentity() });
    expect(dave.forwarder.forwardingAddress).toBe('fwd.n.dave');

    hub.release();
    expect(await pending).toMatchObject({ forwardingAddress: 'fwd.n.slow' });
    expect(
      hub.service
        .forwarders()
        .map((f) => f.name)
        .sort(),
    ).toEqual(['dave', 'slow']);
  });

  it('gives a name raced for during the hook to one identity, checked again after it', async () => {
    const hub = await hubWithSlowHook();
    const [one, two] = [
      await startTcpNode(cleanup, { listen: false }),
      await startTcpNode(cleanup, { listen: false }),
    ];
    const first = register(one, hub, { ...QUIET, name: 'slow-x', identity: await newIdentity() });
    const second = register(two, hub, { ...QUIET, name: 'slow-x', identity: await newIdentity() });
    await waitFor(() => hub.waiting() >= 1, 5_000, 'the hook to hold a registration');
    hub.release();
    const outcomes = await Promise.all([first, second]);
    expect(outcomes.filter((o) => o instanceof ServicesError && o.code === 'NAME_TAKEN')).toHaveLength(1);
    expect(outcomes.filter((o) => o instanceof RemoteForwarder)).toHaveLength(1);
    expect(hub.service.forwarders()).toHaveLength(1);
  });
});

describe('caps', () => {
  it('per identity and per source; the owner of a bound name gets it back while his source is full', async () => {
    const hub = await startHub({ maxForwardersPerSource: 4, maxNamesPerIdentity: 2 });
    const identity = await newIdentity();
    const bob = await startClient(hub, { ...QUIET, name: 'bob', identity });
    expect(await register(bob, hub, { ...QUIET, name: 'bob-2', identity })).toBeInstanceOf(RemoteForwarder);
    const third = await register(bob, hub, { ...QUIET, name: 'bob-3', identity });
    expect(third).toMatchObject({ code: 'LIMIT_REACHED' });
    expect((third as ServicesError).message).toContain('identity');

    // Mallory, from the same IP over connections of her own, fills what is left of its quota.
    const mallory = await startTcpNode(cleanup, { listen: false });
    expect(await register(mallory, hub, QUIET)).toBeInstanceOf(RemoteForwarder);
    expect(await register(mallory, hub, QUIET)).toBeInstanceOf(RemoteForwarder);
    const refused = await register(mallory, hub, QUIET);
    expect(refused).toMatchObject({ code: 'LIMIT_REACHED' });
    expect((refused as ServicesError).message).toContain('source');

    // Bob restarts (a new node) and takes his bound name back anyway.
    await bob.node.stop();
    await waitFor(() => hub.service.stats().live === 2, 5_000, 'Bob’s forwarders to go');
    const bobAgain = await startClient(hub, { ...QUIET, name: 'bob', identity });
    expect(bobAgain.forwarder.forwardingAddress).toBe('fwd.n.bob');
    expect(hub.service.stats().refused.LIMIT_REACHED).toBe(2);
  });

  it('10,000 names from 3 IPs neither fill the table nor block a newcomer, and their slots free up', async () => {
    const hub = await startHub({ reattachGraceMs: 500 });
    const ctx = hub.node.context(undefined);
    // Three attacking IPs, as the hub sees them: requests that carry each IP's transport info and come back
    // over connection workers of their own (local stand-ins for TCP connections; tests bind 127.0.0.1 only).
    let replies = 0;
    const connections: Address[] = [];
    async function fakeConnection(): Promise<Address> {
      const address = Address.local(`fake.c.${randomBytes(8).toString('hex')}`);
      await hub.node.startWorker(address, { handleMessage: () => void replies++ });
      connections.push(address);
      return address;
    }
    const attempt = (connection: Address, remote: string, i: number) =>
      ctx.forward(
        new LocalMessage(
          route('forwarding_service'),
          route(connection),
          { v: 2, type: 'register', nonce: randomBytes(16).toString('hex'), name: `n${remote.length}-${i}` },
          { [TRANSPORT_INFO]: { connection, remote } },
        ),
      );
    const ips = ['198.51.100.1:5000', '198.51.100.2:5000', '198.51.100.3:5000'];
    let sent = 0;
    for (const [k, remote] of ips.entries()) {
      let connection = await fakeConnection();
      for (let i = 0; i < 3_334; i++, sent++) {
        if (i % 16 === 0 && i < 80) connection = await fakeConnection();
        await attempt(connection, remote.replace(':5000', `:${5000 + k}`), k * 10_000 + i);
      }
    }
    await waitFor(() => replies === sent, 60_000, 'every attempt to be answered');
    const perSource = 64; // FORWARDING_DEFAULTS.maxForwardersPerSource
    expect(hub.service.stats()).toMatchObject({ live: 3 * perSource, registered: 3 * perSource });
    expect(hub.service.stats().refused.LIMIT_REACHED).toBe(sent - 3 * perSource);

    // A newcomer from another IP is served at once.
    const newcomer = await startTcpNode(cleanup, { listen: false });
    const named = (await register(newcomer, hub, { ...QUIET, name: 'newcomer' })) as RemoteForwarder;
    expect(named.forwardingAddress).toBe('fwd.n.newcomer');

    // The attackers go away: their unbound names are reserved only for the grace period, then freed.
    await Promise.all(connections.map((c) => hub.node.stopWorker(c)));
    await waitFor(() => hub.service.stats().reserved === 0, 10_000, 'the reservations to expire');
    expect(hub.service.stats()).toMatchObject({ live: 1, expired: 3 * perSource });
  }, 120_000);

  it('counts a source by its IP, an IPv6 host by its /64', () => {
    const hop = Address.local('tcp.c.x');
    const info = (remote: string) => ({ [TRANSPORT_INFO]: { connection: hop, remote } });
    expect(sourceOf(info('203.0.113.9:4000'), hop)).toBe('203.0.113.9');
    expect(sourceOf(info('[::ffff:203.0.113.9]:4000'), hop)).toBe('203.0.113.9');
    expect(sourceOf(info('[2001:db8:1:2:3:4:5:6]:4000'), hop)).toBe('2001:db8:1:2::/64');
    expect(sourceOf(info('[2001:db8:1:2::9]:4000'), hop)).toBe('2001:db8:1:2::/64');
    expect(sourceOf(info('[2001:db8::1]:4000'), hop)).toBe('2001:db8:0:0::/64');
    expect(sourceOf({}, hop)).toBe('hop:tcp.c.x');
  });
});

describe('the state file', () => {
  async function scratch(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'sealroute-state-'));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  it('keeps a second hub off it, and refuses to start from a malformed one', async () => {
    const statePath = join(await scratch(), 'state.json');
    await startHub({ statePath });
    const second = await startTcpNode(cleanup);
    await expect(
      ForwardingService.create(second.ctx, 'forwarding_service', { statePath }),
    ).rejects.toMatchObject({ name: 'ServicesError', code: 'STATE_FILE' });

    const broken = join(await scratch(), 'broken.json');
    await writeFile(broken, '{"format":"sealroute-forwarders","version":1,"hub":"x","slots":[]}');
    await expect(
      ForwardingService.create(second.ctx, 'forwarding_service', { statePath: broken }),
    ).rejects.toMatchObject({ code: 'STATE_FILE' });
    expect(second.node.hasWorker('forwarding_service')).toBe(false);
  });

  it('counts a failed write and still serves: the table stays right in memory', async () => {
    const dir = await scratch();
    const hub = await startHub({ statePath: join(dir, 'state.json') });
    await rm(dir, { recursive: true, force: true }); // every write fails from now on
    const bob = await startClient(hub, QUIET);
    expect(bob.forwarder.forwardingAddress).toMatch(/^fwd\.r\./);
    expect(hub.service.stats().persistFailures).toBeGreaterThanOrEqual(1);
    const alice = await startTcpNode(cleanup, { listen: false });
    expect(await echoThroughHub(alice, hub, bob.forwarder.forwardingAddress, 'still here')).toBe(
      'still here',
    );
  });
});
