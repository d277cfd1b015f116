import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hubPermissions } from '../../src/federation/permissions';
import { natsServerAvailable, startNatsServer } from '../helpers/nats-server';
import { scaled } from '../helpers/slowdown';
import { Cleanup } from '../helpers/tcp-fixtures';
import { cliSession, runCli, type CliProcess } from './cli-process';

jest.setTimeout(scaled(60_000));

const session = cliSession();
const { env, start, ok } = session;
const cleanup = new Cleanup();
afterAll(() => cleanup.run());

const describeWithNats = natsServerAvailable() ? describe : describe.skip;

/** Sends `text` to Bob's echoer through `hub` until the echo comes back (routes settle within ms). */
async function echoThrough(hub: string, forwardingAddress: string, text: string): Promise<void> {
  const deadline = Date.now() + scaled(10_000);
  for (;;) {
    const sent = await runCli(
      ['message', 'send', `/tcp/${hub}/relay/${forwardingAddress}/service/echoer`, text],
      env,
    );
    if (sent.code === 0) {
      expect(sent.stdout).toBe(`${text}\n`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`no echo through ${hub}: ${sent.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describeWithNats('sealroute hub start --nats: hubs federated from a shell', () => {
  /** The hubs the first test starts, by name: their address and process. */
  const hubs = new Map<string, { address: string; process: CliProcess }>();

  it('reaches Bob, registered at hub c by name, through hub a; each hub with its own NATS user', async () => {
    // Hub users with the permissions of docs/federation.md (a hub subscribes to its own subject only).
    const users = ['hub-a', 'hub-c'].map((hub) => ({
      user: hub,
      password: `secret-${hub}`,
      permissions: hubPermissions(hub),
    }));
    const nats = await startNatsServer(cleanup, {
      config: `authorization { users: ${JSON.stringify(users)} }\n`,
    });
    for (const name of ['hub-a', 'hub-c']) {
      const passwordFile = join(session.dir, `${name}.password`);
      writeFileSync(passwordFile, `secret-${name}\n`, { mode: 0o600 });
      const hub = start([
        'hub',
        'start',
        '--tcp',
        '127.0.0.1:0',
        '--name',
        name,
        '--nats',
        nats.url,
        '--nats-user',
        name,
        '--nats-password-file',
        passwordFile,
      ]);
      const federated = await hub.waitFor(/Federated: hub (\S+) of a federation on (\S+)/);
      expect(federated.slice(1)).toEqual([name, nats.url]);
      hubs.set(name, { address: (await hub.waitFor(/Hub listening on (\S+)/))[1]!, process: hub });
    }

    const bobConfig = join(session.dir, 'bob.yaml');
    writeFileSync(
      bobConfig,
      [
        'name: bob',
        'identity: bob',
        'secureChannelListeners:',
        '  - address: listener',
        '    trust: any-identity',
        'workers:',
        '  - address: echoer',
        '    builtin: echoer',
        'relays:',
        `  - hub: ${hubs.get('hub-c')!.address}`,
        '    name: bob',
        '',
      ].join('\n'),
    );
    const bob = start(['node', 'start', '--config', bobConfig]);
    const forwardingAddress = (await bob.waitFor(/Forwarding address: (\S+)/))[1]!;
    expect(forwardingAddress).toMatch(/^I[0-9a-f]{40}@fwd\.n\.bob$/);

    // Hub a learns where the name is from the federation's bucket (within milliseconds).
    await echoThrough(hubs.get('hub-a')!.address, forwardingAddress, 'hello from a');

    // `relay create` on the running node: several hubs fail over by a name, so one is required.
    const both = ['--hub', hubs.get('hub-a')!.address, '--hub', hubs.get('hub-c')!.address];
    const unnamed = await runCli(['relay', 'create', '--node', 'bob', ...both], env);
    expect(unnamed.code).toBe(1); // the node refused it
    expect(unnamed.stderr).toMatch(/several hubs fails over among them by its name: give a name/);
    const named = await ok(['relay', 'create', '--node', 'bob', ...both, '--name', 'bob-too']);
    expect(named.trim()).toMatch(/^I[0-9a-f]{40}@fwd\.n\.bob-too$/);
    await echoThrough(hubs.get('hub-a')!.address, named.trim(), 'hello again');
  });

  it('moves a relay given several hubs (--relay twice) to the other hub when its hub is killed', async () => {
    if (hubs.size < 2) throw new Error("this test uses the first test's hubs, which did not start");
    const [a, c] = [hubs.get('hub-a')!, hubs.get('hub-c')!];
    const bob = start(
      ['node', 'start', '--identity', 'bob2', '--echoer'].concat([
        '--relay',
        a.address,
        '--relay',
        c.address,
        '--relay-name',
        'bob2',
      ]),
    );
    const forwardingAddress = (await bob.waitFor(/Forwarding address: (\S+)/))[1]!;
    const relayHub = async (): Promise<{ hub: string; registered: boolean }> =>
      JSON.parse(await ok(['status', '--node', 'bob2', '--json'])).forwarders.relays[0];
    const first = (await relayHub()).hub;
    const [dead, alive] = first === a.address ? [a, c] : [c, a];
    dead.process.child.kill('SIGKILL');
    const deadline = Date.now() + scaled(10_000);
    for (let now = await relayHub(); now.hub !== alive.address || !now.registered; now = await relayHub()) {
      if (Date.now() > deadline)
        throw new Error(`the relay did not move to ${alive.address}: ${JSON.stringify(now)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await echoThrough(alive.address, forwardingAddress, 'after the failover');
  });

  it('refuses NATS flags without --nats, and a federated hub with a state file', async () => {
    const alone = await runCli(['hub', 'start', '--tcp', '127.0.0.1:0', '--nats-user', 'x'], env);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/--nats-user, --nats-password-file and --replicas need --nats/);
    const withState = await runCli(
      ['hub', 'start', '--tcp', '127.0.0.1:0', '--nats', 'nats://127.0.0.1:1', '--state', 'x.json'],
      env,
    );
    expect(withState.code).not.toBe(0);
    expect(withState.stderr).toMatch(/a federated hub keeps its names in the federation/);
  });
});
