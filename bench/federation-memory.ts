/**
 * Heap of a federated hub for 10,000 names over 3 hubs (docs/federation.md, issue 17): three hubs in this
 * process claim 10,000 bound names between them (no clients: each hub then holds 1/3 of the records and a
 * route, and an address of its relay worker, for each of the other 2/3), and the heap growth is divided by three; beside it, as
 * the baseline, one hub holding all 10,000 as its own (goal: at most 1.5x). Run with
 * `node --expose-gc -r ts-node/register bench/federation-memory.ts` (needs nats-server).
 */
import { randomBytes } from 'node:crypto';
import {
  Identity,
  InMemoryVault,
  NodeRuntime,
  silentLogger,
  startFederatedHub,
  type FederatedHub,
} from '../src';
import { nameClaimStatement } from '../src/services/forwarding-messages';
import { startNats } from './federation.bench';

const NAMES = 10_000;

function heap(): number {
  (globalThis as { gc?: () => void }).gc?.();
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

/**
 * The heap growth per hub (bytes) once `hubs` hubs in this process, federated on a nats-server of their
 * own, hold 10,000 bound names claimed round-robin among them (each hub then keeps its own records and a
 * route and a relay address for every other name).
 */
async function perHub(names: readonly string[]): Promise<number> {
  const { nats, url } = await startNats();
  try {
    const hubs: { node: NodeRuntime; hub: FederatedHub }[] = [];
    for (const name of names) {
      const node = new NodeRuntime({ logger: silentLogger });
      const ctx = node.context();
      hubs.push({ node, hub: await startFederatedHub(ctx, { nats: { servers: [url] }, hub: name }) });
    }
    const owner = await Identity.create(await InMemoryVault.create());
    const claims = await Promise.all(
      Array.from({ length: NAMES }, async (_, i) => {
        const hub = hubs[i % hubs.length]!.hub;
        const name = `n-${i}`;
        const challenge = randomBytes(16).toString('hex');
        const sig = await owner.sign(nameClaimStatement(hub.service.hub, challenge, name, owner.publicKey));
        return { hub, name, challenge, sig };
      }),
    );
    const before = heap();
    await Promise.all(
      claims.map(({ hub, name, challenge, sig }) =>
        hub.federation.claim({
          name,
          owner: owner.identifier,
          instance: hub.service.hub,
          challenge,
          key: owner.publicKey,
          sig,
        }),
      ),
    );
    const settled = () =>
      hubs.every(
        ({ hub }) => hub.federation.stats().localNames + hub.federation.stats().remoteNames === NAMES,
      );
    while (!settled()) await new Promise((resolve) => setTimeout(resolve, 100));
    const growth = (heap() - before) / hubs.length;
    for (const { hub, node } of hubs) {
      await hub.stop();
      await node.stop();
    }
    return growth;
  } finally {
    nats.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  if ((globalThis as { gc?: unknown }).gc === undefined) throw new Error('run with node --expose-gc');
  // The baseline: one hub holding all 10,000 names as its own (a federation of one: a plain hub takes
  // names only from connected clients, which would measure their connections too).
  const single = await perHub(['solo']);
  const federated = await perHub(['a', 'b', 'c']);
  const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(2);
  console.log(`single hub: ${mib(single)} MiB for ${NAMES} names of its own`);
  console.log(
    `federated: ${mib(federated)} MiB per hub for ${NAMES} names over 3 hubs ` +
      `(${(federated / (NAMES * (2 / 3)) / 1024).toFixed(2)} KiB per remote name, records of its own included); ` +
      `${(federated / single).toFixed(2)}x the single hub (goal <= 1.5x)`,
  );
}

void main();
