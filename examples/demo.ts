// The whole story on one machine: a hub, Bob and Alice as three real processes on 127.0.0.1 (free ports).
// Bob registers a forwarder at the hub and prints a forwarding address that names his identity; Alice opens
// an end-to-end encrypted secure channel to Bob through the hub, trusting exactly that identity, and sends a
// few messages to Bob's echoer. All traffic to and from the hub passes through a recording proxy, and at
// the end the demo checks that none of the plaintexts ever crossed it. Then an impostor's address (Bob's
// forwarder, another identifier) shows that Alice refuses anyone but Bob.
// Run: npm run demo   (the identities live in a temporary SEALROUTE_HOME, removed at the end)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ForwardingAddress } from '../src';
import { ExampleProcess } from './demo/processes';
import { RecordingProxy } from './demo/tcp-proxy';

const messages = ['Hello Bob!', 'The hub only ever sees ciphertext.', 'Bye for now.'];

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'sealroute-demo-'));
  const env = { SEALROUTE_HOME: home };
  console.log('Starting the hub on a free port...');
  const hub = ExampleProcess.start('hub', 'hub.ts', ['127.0.0.1:0']);
  const processes = [hub];
  let proxy: RecordingProxy | undefined;
  try {
    const hubAddress = (await hub.waitForLine(/^Hub listening on /)).replace('Hub listening on ', '').trim();
    proxy = await RecordingProxy.start(hubAddress);
    console.log(
      `Recording proxy at ${proxy.address} in front of the hub (Alice and Bob connect through it).`,
    );

    const bob = ExampleProcess.start('bob', 'bob.ts', [proxy.address], { env });
    processes.push(bob);
    const forwardingAddress = (await bob.lineAfter(/^Forwarding address for Bob is:/)).trim();
    const bobAt = ForwardingAddress.parse(forwardingAddress);

    const alice = ExampleProcess.start('alice', 'alice.ts', [proxy.address], { env });
    processes.push(alice);
    alice.write(forwardingAddress);
    await alice.waitForLine(/End-to-end encrypted secure channel was established/);
    for (const message of messages) {
      alice.write(message);
      await alice.waitForLine((line) => line.includes(`Alice received an echo: ${message}`));
    }
    alice.endInput();
    const aliceCode = await alice.exited;

    // The same forwarder, someone else's identifier: what a hub that answers in Bob's place amounts to.
    console.log('');
    console.log("Alice again, given Bob's forwarder with another identifier (an impostor's address):");
    const impostor = ForwardingAddress.of(bobAt.forwarder, `I${'0'.repeat(40)}`).format();
    const refused = ExampleProcess.start('alice', 'alice.ts', [proxy.address], { env, echo: false });
    processes.push(refused);
    refused.write(impostor);
    const refusedCode = await refused.exited;
    const untrusted = /SecureChannelError UNTRUSTED/.test(refused.errors);

    const crossed = proxy.allBytes();
    const leaked = messages.filter((m) => crossed.includes(Buffer.from(m, 'utf8')));
    console.log(
      untrusted && refusedCode !== 0
        ? `[✓] Alice refused it (UNTRUSTED: the listener proved ${bobAt.identifier}) and exited with code ${refusedCode}.`
        : `[✗] Alice did not refuse it (exit code ${refusedCode}).`,
    );
    console.log('');
    console.log(`Alice exited with code ${aliceCode} after ${messages.length} echoes.`);
    console.log(`Alice authenticated Bob as ${bobAt.identifier}, the identifier in his forwarding address.`);
    console.log(`Bytes that crossed the hub: ${crossed.length}.`);
    for (const message of messages) {
      const found = crossed.includes(Buffer.from(message, 'utf8'));
      console.log(`  ${found ? '[✗] FOUND in clear' : '[✓] not found'}: ${JSON.stringify(message)}`);
    }
    if (leaked.length > 0 || aliceCode !== 0 || !untrusted || refusedCode === 0) {
      process.exitCode = 1;
      console.log('Demo FAILED.');
    } else {
      console.log('The hub relayed every message and saw none of them: end-to-end encryption holds.');
    }
  } finally {
    for (const child of processes.reverse()) await child.stop();
    await proxy?.close();
    rmSync(home, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
