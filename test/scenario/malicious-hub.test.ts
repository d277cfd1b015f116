import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordingProxy } from '../../examples/demo/tcp-proxy';
import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { createSecureChannel } from '../../src/channel/create-secure-channel';
import { Identity, TrustEveryone } from '../../src/identity';
import { ForwardingAddress } from '../../src/services/forwarding-address';
import { InMemoryVault } from '../../src/vault';
import { within } from '../helpers/async';
import { SpawnedExample } from '../helpers/spawned-example';
import { Cleanup, startTcpNode } from '../helpers/tcp-fixtures';

// The story's programs behind a MALICIOUS hub (fixtures/malicious-hub.ts): it gives Bob a real forwarder but
// tells him, so that he prints it, the address of the hub's own secure channel listener, and relays what it
// decrypts there to Bob through a channel of its own, rewritten. A recording proxy in front of the hub keeps
// every byte the hub received. Alice, who trusts exactly the identifier in Bob's address, refuses; an Alice
// who trusted everyone (the old story) is read and rewritten, which shows the hub really is in the middle.

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const START_MS = 60_000;
const STEP_MS = 10_000;
const SECRET = 'my password is hunter2';
const ASK_ADDRESS = 'Enter the forwarding address for Bob: ';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'sealroute-home-'));
  const dir = home;
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
});

function start(file: string, args: string[]): SpawnedExample {
  const program = SpawnedExample.start(file, { args, env: { SEALROUTE_LOG: 'warn', SEALROUTE_HOME: home } });
  cleanup.add(() => program.stop('SIGKILL', 2_000));
  return program;
}

/** The malicious hub, a recording proxy in front of it, and Bob registered through the proxy. */
async function world(): Promise<{
  hub: SpawnedExample;
  proxy: RecordingProxy;
  bob: SpawnedExample;
  printed: string;
}> {
  const hub = start('test/scenario/fixtures/malicious-hub.ts', ['127.0.0.1:0']);
  const hubAddress = (await hub.waitForLine(/^Hub listening on (127\.0\.0\.1:\d+)$/, START_MS))[1]!;
  const proxy = await RecordingProxy.start(hubAddress);
  cleanup.add(() => proxy.close());
  const bob = start('examples/bob.ts', [proxy.address]);
  await bob.waitForLine(/^Forwarding address for Bob is:$/, START_MS);
  const printed = (await bob.waitForLine(/^I[0-9a-f]{40}@fwd\.[a-z0-9._-]+$/, STEP_MS))[0];
  return { hub, proxy, bob, printed };
}

describe('the story behind a malicious hub that runs its own listener at Bob’s forwarding address', () => {
  it('Alice refuses the channel with UNTRUSTED, exits 1, and no plaintext reaches the hub', async () => {
    const { hub, proxy, bob, printed } = await world();
    const alice = start('examples/alice.ts', [proxy.address]);
    await alice.waitForLine(new RegExp(`^${ASK_ADDRESS}$`), START_MS);
    alice.write(printed);
    alice.write(SECRET); // typed ahead: it must never leave Alice

    // Bounded by the handshake, not by any timeout: the refusal comes with the hub's first answer.
    const exit = await within(alice.exited, START_MS, 'Alice to exit').catch((err: Error) => {
      throw new Error(`${err.message}\n${alice.describe()}`);
    });
    expect(exit).toEqual({ code: 1, signal: null });
    const bobId = ForwardingAddress.parse(printed).identifier;
    expect(alice.stderr).toMatch(
      new RegExp(
        `^Alice failed: SecureChannelError UNTRUSTED: trust policy TrustIdentifier\\(${bobId}\\) refused I[0-9a-f]{40}$`,
        'm',
      ),
    );
    expect(alice.stdout).toBe(ASK_ADDRESS);
    // Bob printed only his three lines: nothing reached his echoer.
    expect(bob.stdout.trim().split('\n')).toHaveLength(3);
    // The hub's listener ran a handshake with Alice (its bytes crossed the proxy) but decrypted nothing.
    expect(proxy.capture.fromTarget.length).toBeGreaterThan(0);
    expect(hub.stdout).not.toContain('HUB READ');
    expect(proxy.allBytes().includes(Buffer.from('hunter2'))).toBe(false);
  }, 240_000);

  it('(the attack is real) an Alice who trusts everyone is read and rewritten by the hub', async () => {
    const { hub, proxy, bob, printed } = await world();
    const alice = await startTcpNode(cleanup, { listen: false });
    const identity = await Identity.create(await InMemoryVault.create());
    const forwarder = ForwardingAddress.parse(printed);
    const channel = await createSecureChannel(alice.ctx, identity, route([TCP, proxy.address], forwarder), {
      trustPolicy: TrustEveryone,
      timeout: STEP_MS,
    });
    // The channel is "established", but with the hub: its identifier is not the one Bob printed.
    expect(channel.remoteIdentifier).not.toBe(forwarder.identifier);
    const echo = await alice.ctx.request(route(channel, 'echoer'), SECRET, { timeout: STEP_MS });
    expect(echo.body).toBe(`${SECRET} (rewritten by the hub)`);
    await hub.waitForLine(new RegExp(`^HUB READ: ${SECRET}$`), STEP_MS);
    await bob.waitForLine(new RegExp(`Received: ${SECRET} \\(rewritten by the hub\\)$`), STEP_MS);
    // The wire itself stays ciphertext: the hub read the text after decrypting it as Alice's peer.
    expect(proxy.allBytes().includes(Buffer.from('hunter2'))).toBe(false);
  }, 240_000);
});
