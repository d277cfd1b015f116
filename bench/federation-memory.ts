/**
 * Heap of a federated hub for 10,000 names over 3 hubs (docs/federation.md, issue 17): three hubs in this
 * process claim 10,000 bound names between them (no clients: each hub then holds 1/3 of the records and a
 * route with its worker for each of the other 2/3), and the heap growth is divided by three. Run with
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

async function main(): Promise<void> {
  if ((globalThis as { gc?: unknown }).gc === undefined) throw new Error('run with node --expose-gc');
  const { nats, url } = await startNats();
  try {
    const hubs: { node: NodeRuntime; hub: FederatedHub }[] = [];
    for (const name of ['a', 'b', 'c']) {
      const node = new NodeRuntime({ logger: silentLogger });
      const ctx = node.context();
      hubs.push({ node, hub: await startFederatedHub(ctx, { nats: { servers: [url] }, hub: name }) });
    }
    const owner = await Identity.create(await InMemoryVault.create());
    const claims = await Promise.all(
      Array.from({ length: NAMES }, async (_, i) => {
        const hub = hubs[i % 3]!.hub;
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
    const after = heap();
    const perHub = (after - before) / 3;
    console.log(
      `federated: ${(perHub / 1024 / 1024).toFixed(2)} MiB per hub for ${NAMES} names over 3 hubs ` +
        `(${(perHub / (NAMES * (2 / 3)) / 1024).toFixed(2)} KiB per remote name, records of its own included)`,
    );
    for (const { hub, node } of hubs) {
      await hub.stop();
      await node.stop();
    }
  } finally {
    nats.kill('SIGKILL');
  }
}

void main();
