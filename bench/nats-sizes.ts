/**
 * `npm run nats-sizes`: what one NATS message costs by its size, through a nats-server of its own, two
 * connections of the federation's bus in this process (one publishes, one is subscribed). For each size,
 * 5,000 messages (the publisher waiting for every 100th to arrive) after 2,000 to warm up, in five rounds
 * that take the sizes in turn; prints the median CPU per message of this process (both connections) and of
 * nats-server, and each per KiB as a ratio to the smallest size's (measured in the same run). It showed why federated frames cross NATS in
 * pieces (bench/README.md, `federation.*`): a message that spans two socket reads costs more per byte.
 */
import { rmSync } from 'node:fs';
import { connectNats, type FederationBus } from '../src/federation/nats-bus';
import { startNats } from './federation.bench';
import { cpuMicrosOfPid } from './cpu-per-op';
import { median } from './harness';

const SIZES = [16 * 1024, 32_000, 64 * 1024, 256 * 1024];
const MESSAGES = 5_000;
const BATCH = 100;
const ROUNDS = 5;

/** Sends `count` messages of `size` bytes, `BATCH` at a time, each batch waited for at the subscriber. */
async function send(
  bus: FederationBus,
  subject: string,
  size: number,
  count: number,
  arrived: () => Promise<void>,
): Promise<void> {
  const head = new Uint8Array(40);
  const body = new Uint8Array(size - head.length).fill(7);
  for (let sent = 0; sent < count; sent += BATCH) {
    const batch = arrived();
    for (let i = 0; i < BATCH; i++) bus.publish(subject, head, body);
    await batch;
  }
}

async function main(): Promise<void> {
  const { nats, dir, url } = await startNats();
  const publisher = await connectNats({ servers: [url] });
  const subscriber = await connectNats({ servers: [url] });
  try {
    let received = 0;
    let waiter: { until: number; resolve: () => void } | undefined;
    subscriber.subscribe('sizes', () => {
      received++;
      if (waiter !== undefined && received >= waiter.until) waiter.resolve();
    });
    await subscriber.flush();
    const arrived = (): Promise<void> =>
      new Promise((resolve) => (waiter = { until: received + BATCH, resolve }));
    for (const size of SIZES) await send(publisher, 'sizes', size, 2_000, arrived);
    // Sizes take turns, round after round, so that whatever slows one round (a collector storm, the
    // machine's other work) falls on every size alike.
    const client = SIZES.map((): number[] => []);
    const server = SIZES.map((): number[] => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, size] of SIZES.entries()) {
        const before = { cpu: process.cpuUsage(), server: cpuMicrosOfPid(nats.pid) };
        await send(publisher, 'sizes', size, MESSAGES, arrived);
        const used = process.cpuUsage(before.cpu);
        client[i]!.push((used.user + used.system) / MESSAGES);
        server[i]!.push((cpuMicrosOfPid(nats.pid) - before.server) / MESSAGES);
      }
    }
    const rows = SIZES.map((size, i) => ({ size, client: median(client[i]!), server: median(server[i]!) }));
    const base = rows[0]!;
    const perKiB = (us: number, size: number): number => us / (size / 1024);
    console.log(
      'size (bytes)  this process us/msg  nats-server us/msg  per KiB vs the first row (process, server)',
    );
    for (const row of rows) {
      const c = perKiB(row.client, row.size) / perKiB(base.client, base.size);
      const s = perKiB(row.server, row.size) / perKiB(base.server, base.size);
      console.log(
        `${String(row.size).padStart(12)}  ${row.client.toFixed(1).padStart(19)}  ${row.server.toFixed(1).padStart(18)}  ${c.toFixed(2)}x, ${s.toFixed(2)}x`,
      );
    }
  } finally {
    await publisher.close();
    await subscriber.close();
    nats.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
