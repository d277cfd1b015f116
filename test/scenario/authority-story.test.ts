import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { within } from '../helpers/async';
import { scaled } from '../helpers/slowdown';
import { SpawnedExample } from '../helpers/spawned-example';
import { Cleanup } from '../helpers/tcp-fixtures';

// The story with an authority, every party a process as a user runs it (README "More than two parties"):
// examples/authority.ts prints enrollment tickets; examples/hub.ts admits forwarders by credential;
// examples/bob-credentials.ts and examples/alice-credentials.ts join with their tickets and admit each
// other by attribute.

jest.setTimeout(scaled(240_000));

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const START_MS = 60_000;
const STEP_MS = 15_000;
const ASK_ADDRESS = 'Enter the forwarding address for Bob: ';

function home(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sealroute-authority-story-'));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function start(file: string, args: string[], env: NodeJS.ProcessEnv): SpawnedExample {
  const program = SpawnedExample.start(file, { args, env: { SEALROUTE_LOG: 'warn', ...env } });
  cleanup.add(() => program.stop('SIGKILL', 2_000));
  return program;
}

const ticketLine = (spec: string) => new RegExp(`^Ticket \\(${spec}\\): (sealroute-ticket:\\S+)$`);

/** The authority with three tickets, the hub that trusts it, and Bob registered with his credential. */
async function world(authorityEnv: NodeJS.ProcessEnv = {}) {
  const shared = home();
  const env = { SEALROUTE_HOME: shared };
  const authority = start(
    'examples/authority.ts',
    [
      '127.0.0.1:0',
      '--ticket',
      'role=echoer,relay=bob',
      '--ticket',
      'role=echo-client',
      '--ticket',
      'role=guest',
    ],
    { ...env, ...authorityEnv },
  );
  await authority.waitForLine(/^Authority listening on \S+$/, START_MS);
  const key = (await authority.waitForLine(/^Authority public key: ([0-9a-f]{64})$/, STEP_MS))[1]!;
  const [forBob, forAlice, forGuest] = await Promise.all(
    ['role=echoer,relay=bob', 'role=echo-client', 'role=guest'].map(
      async (spec) => (await authority.waitForLine(ticketLine(spec), STEP_MS))[1]!,
    ),
  );
  const hub = start('examples/hub.ts', ['127.0.0.1:0'], { ...env, SEALROUTE_AUTHORITY: key });
  const hubAddress = (await hub.waitForLine(/^Hub listening on (127\.0\.0\.1:\d+)$/, START_MS))[1]!;
  const bob = start('examples/bob-credentials.ts', [forBob, hubAddress], env);
  await bob.waitForLine(/^\[✓\] Bob is a member of authority I[0-9a-f]{40}$/, START_MS);
  const printed = (await bob.waitForLine(/^I[0-9a-f]{40}@fwd\.n\.bob$/, STEP_MS))[0];
  return { env, hub, hubAddress, bob, printed, forAlice, forGuest };
}

describe('the story with an authority (examples/*-credentials.ts as processes)', () => {
  it('Bob and Alice join with tickets, admit each other by attribute, and echo on past renewals', async () => {
    // Short-lived credentials, so that they are renewed (and the first ones expire) during the test.
    const ttl = scaled(3_000);
    const { env, hub, hubAddress, bob, printed, forAlice } = await world({
      SEALROUTE_CREDENTIAL_TTL_MS: String(ttl),
    });
    const alice = start('examples/alice-credentials.ts', [forAlice, hubAddress], env);
    await alice.waitForLine(new RegExp(`^${ASK_ADDRESS}`), START_MS);
    alice.write(printed);
    await alice.waitForLine(/End-to-end encrypted secure channel was established\.$/, STEP_MS);
    alice.write('hello by attribute');
    await alice.waitForLine(/^Alice received an echo: hello by attribute$/, STEP_MS);
    await bob.waitForLine(/Received: hello by attribute$/, STEP_MS);
    // Past the expiry of every first credential (and the 5 s clock skew allowance): Bob's echoer still
    // admits Alice, by the credential she renewed over the channel, and Bob's forwarder still stands.
    const expired = Date.now() + ttl + 5_000 + 500;
    await new Promise((resolve) => setTimeout(resolve, expired - Date.now()));
    alice.write('after renewal');
    await alice.waitForLine(/^Alice received an echo: after renewal$/, STEP_MS);
    alice.endInput();
    expect(await within(alice.exited, STEP_MS, 'Alice to exit')).toEqual({ code: 0, signal: null });
    expect(alice.stderr).toBe('');
    // Bob's renewed credential reached the hub before the first expired: his forwarder was never dropped.
    expect(hub.stderr).not.toContain('forwarder dropped');
  });

  it('Bob refuses a member without role=echo-client: that Alice exits 1 before sending anything', async () => {
    const { hubAddress, bob, printed, forGuest } = await world();
    // Another machine's Alice (her own home, her own identity) holding the guest ticket.
    const guest = start('examples/alice-credentials.ts', [forGuest, hubAddress], { SEALROUTE_HOME: home() });
    await guest.waitForLine(new RegExp(`^${ASK_ADDRESS}`), START_MS);
    guest.write(printed);
    guest.write('let me in');
    expect(await within(guest.exited, STEP_MS, 'the guest to exit')).toEqual({ code: 1, signal: null });
    expect(guest.stderr).toMatch(/^Alice failed: SecureChannelError REFUSED/m);
    expect(bob.stdout).not.toContain('let me in');
  });
});
