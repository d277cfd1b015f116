import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { Identity } from '../../src/identity/identity';
import { ForwardingService } from '../../src/services/forwarding-service';
import { RemoteForwarder, type RemoteForwarderOptions } from '../../src/services/remote-forwarder';
import { InMemoryVault } from '../../src/vault/in-memory-vault';
import { within } from '../helpers/async';
import { SpawnedExample } from '../helpers/spawned-example';
import { Cleanup, startEchoer, startTcpNode, type TcpTestNode } from '../helpers/tcp-fixtures';

// Issue 8, item 3, with real processes: Bob (a FileVault identity, a name bound to it) killed and started
// again; a hub that keeps its table in a state file killed with SIGKILL and started again on the same port.
// Mallory, in process, tries to take what is Bob's at every moment he is away.

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const LISTENING = /^Hub listening on (127\.0\.0\.1:[1-9]\d*)$/;
const REGISTERED = /^registered (\S+) (I[0-9a-f]{40})$/;

const FAST: RemoteForwarderOptions = {
  heartbeatIntervalMs: 200,
  heartbeatTimeoutMs: 1_000,
  registrationTimeoutMs: 2_000,
  reconnectInitialMs: 100,
  reconnectMaxMs: 300,
};

async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sealroute-names-'));
  cleanup.add(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function spawn(file: string, args: string[]): SpawnedExample {
  const child = SpawnedExample.start(file, { args, env: { SEALROUTE_LOG: 'warn' } });
  cleanup.add(() => child.stop('SIGKILL', 2_000));
  return child;
}

const startHubProcess = (listen: string, statePath: string) =>
  spawn('test/scenario/fixtures/stateful-hub.ts', [listen, statePath]);
const startBobProcess = (hub: string, vaultPath: string) =>
  spawn('test/scenario/fixtures/bound-bob.ts', [hub, vaultPath, 'bob']);

/** Mallory tries to take `fwd.n.bob`, without an identity and with her own: both must be refused. */
async function malloryTriesBobsName(mallory: TcpTestNode, hub: string, identity: Identity): Promise<void> {
  for (const options of [{ name: 'bob' }, { name: 'bob', identity }]) {
    const outcome = await RemoteForwarder.create(mallory.ctx, route([TCP, hub]), 'listener', {
      ...FAST,
      ...options,
    }).catch((err: unknown) => err);
    if (outcome instanceof RemoteForwarder) await outcome.stop();
    expect(outcome).toMatchObject({ name: 'ServicesError', code: 'NAME_TAKEN' });
  }
}

async function echo(alice: TcpTestNode, hub: string, address: string, text: string): Promise<unknown> {
  await alice.ctx.send(route([TCP, hub], address), text);
  return (await alice.ctx.receive({ timeout: 10_000 })).body;
}

describe('bound names across restarts, with real processes', () => {
  it('a Bob killed and started again gets his name back at once; nobody else gets it meanwhile', async () => {
    const dir = await scratch();
    const hub = await startTcpNode(cleanup);
    await ForwardingService.create(hub.ctx, 'forwarding_service');
    const mallory = await startTcpNode(cleanup, { listen: false });
    const malloryIdentity = await Identity.create(await InMemoryVault.create());
    const alice = await startTcpNode(cleanup, { listen: false });

    const bob = startBobProcess(hub.address, join(dir, 'bob.vault'));
    const [, address, identifier] = await bob.waitForLine(REGISTERED, 30_000);
    expect(address).toBe('fwd.n.bob');
    expect(await echo(alice, hub.address, 'fwd.n.bob', 'hi')).toBe(`${identifier}: hi`);

    expect(await bob.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    await malloryTriesBobsName(mallory, hub.address, malloryIdentity);

    // A new process, the same vault file: the same identity, its name at once (no reservation to wait out).
    const restarted = startBobProcess(hub.address, join(dir, 'bob.vault'));
    const [, again, sameIdentifier] = await restarted.waitForLine(REGISTERED, 30_000);
    expect([again, sameIdentifier]).toEqual(['fwd.n.bob', identifier]);
    expect(await echo(alice, hub.address, 'fwd.n.bob', 'still you?')).toBe(`${identifier}: still you?`);
  }, 120_000);

  it('a hub killed and started again with its state file gives Bob’s name to Bob only, and a random address to its token', async () => {
    const dir = await scratch();
    const statePath = join(dir, 'hub-state.json');
    const vaultPath = join(dir, 'bob.vault');
    const hub = startHubProcess('127.0.0.1:0', statePath);
    const address = (await hub.waitForLine(LISTENING, 30_000))[1]!;
    const bob = startBobProcess(address, vaultPath);
    const identifier = (await bob.waitForLine(REGISTERED, 30_000))[2]!;
    // Carol holds a random address (in process; she keeps her token across the hub's restart).
    const carol = await startTcpNode(cleanup, { listen: false });
    await startEchoer(carol.node, 'listener');
    const carols = await RemoteForwarder.create(carol.ctx, route([TCP, address]), 'listener', FAST);
    cleanup.add(() => carols.stop());
    const random = carols.forwardingAddress;
    const alice = await startTcpNode(cleanup, { listen: false });
    expect(await echo(alice, address, 'fwd.n.bob', 'before')).toBe(`${identifier}: before`);

    // The table on disk names owners and token hashes, never a token.
    const saved = JSON.parse(await readFile(statePath, 'utf8')) as { slots: Record<string, unknown>[] };
    expect(saved.slots.map((s) => s.address).sort()).toEqual(['fwd.n.bob', random].sort());
    expect(saved.slots.find((s) => s.address === 'fwd.n.bob')).toMatchObject({ owner: identifier });
    expect(JSON.stringify(saved)).not.toMatch(/"token"/);
    expect((await stat(statePath)).mode & 0o777).toBe(0o600);

    // Both die at once; the hub comes back first, and Mallory is there before Bob.
    const carolLost = new Promise<void>((resolve) => carols.once('lost', () => resolve()));
    expect(await hub.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    await bob.stop('SIGKILL');
    await within(carolLost, 10_000, 'Carol to notice');
    const carolBack = new Promise<string>((resolve) =>
      carols.on('registered', (at) => carols.isRegistered && resolve(at)),
    );
    const restarted = startHubProcess(address, statePath);
    expect((await restarted.waitForLine(LISTENING, 30_000))[1]).toBe(address);

    const mallory = await startTcpNode(cleanup, { listen: false });
    await malloryTriesBobsName(mallory, address, await Identity.create(await InMemoryVault.create()));
    // Carol re-attaches to her random address with her token (within the grace period after the restart).
    expect(await within(carolBack, 15_000, 'Carol to re-attach')).toBe(random);
    expect(await echo(alice, address, random, 'to Carol')).toBe('to Carol');

    const bobAgain = startBobProcess(address, vaultPath);
    const [, name, sameIdentifier] = await bobAgain.waitForLine(REGISTERED, 30_000);
    expect([name, sameIdentifier]).toEqual(['fwd.n.bob', identifier]);
    expect(await echo(alice, address, 'fwd.n.bob', 'after')).toBe(`${identifier}: after`);
    expect(await restarted.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 180_000);
});
