import { route } from '../../src/core/route';
import { DropTally } from '../../reliability/lib/drop-tally';
import { numbered, SeqSet } from '../../reliability/lib/numbered';
import { describeOneWay, oneWayReconciled, reconcileOneWay } from '../../reliability/lib/reconcile';
import { waitFor } from '../helpers/async';
import { HostileProxy } from '../helpers/hostile-proxy';
import { scaled } from '../helpers/slowdown';
import { Cleanup } from '../helpers/tcp-fixtures';
import { startAlice, startBob, startHub, toBob } from './fixtures';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const SIZE = 2048;
const COUNT = 200;

/**
 * Alice sends COUNT one-way numbered messages to Bob's sink through a channel, across a proxy in front of
 * the hub that may drop frames; every node tallies the dead letters of the traffic, and the one-way
 * reconciliation of `npm run faults` is run on the outcome.
 */
async function sendThrough(dropOne: boolean) {
  const hub = await startHub(cleanup);
  const proxy = await HostileProxy.start(hub.address);
  cleanup.add(() => proxy.close());
  const bob = await startBob(cleanup, hub.address);
  const alice = await startAlice(cleanup);
  const channel = await alice.open(toBob(proxy.address, bob));
  const tallies = [alice, hub, bob].map((n) => new DropTally(n.node, SIZE));
  if (dropOne) {
    // The 100th large frame from Alice vanishes on the wire: no node can know, so nothing counts it.
    let large = 0;
    proxy.intercept({
      match: (frame) => frame.direction === 'toTarget' && frame.bytes.length > SIZE && ++large === 100,
      tamper: { kind: 'drop' },
    });
  }
  for (let seq = 0; seq < COUNT; seq++) await alice.ctx.send(route(channel, 'sink'), numbered(seq, SIZE));
  const expected = dropOne ? COUNT - 1 : COUNT;
  await waitFor(() => bob.sink.counts.received >= expected, scaled(10_000), 'the sink to settle');
  return reconcileOneWay(
    { first: 0, sent: COUNT, errored: new Map() },
    bob.sink.seen,
    bob.sink.counts,
    tallies,
  );
}

describe('one-way accounting (npm run faults)', () => {
  it('reconciles a clean run: every message delivered, nothing unaccounted or overcounted', async () => {
    const result = await sendThrough(false);
    expect({ ok: oneWayReconciled(result), result: describeOneWay(result) }).toMatchObject({ ok: true });
    expect(result.delivered).toBe(COUNT);
  });

  it('catches a deliberate silent drop: one message neither delivered nor counted', async () => {
    const result = await sendThrough(true);
    expect(oneWayReconciled(result)).toBe(false);
    expect(result).toMatchObject({ delivered: COUNT - 1, unaccounted: 1, overcounted: 0 });
  });

  it('catches a message counted as lost although it was delivered', () => {
    const delivered = new SeqSet();
    for (let seq = 0; seq < 10; seq++) delivered.add(seq);
    const wrongly = new SeqSet();
    wrongly.add(3);
    const result = reconcileOneWay(
      { first: 0, sent: 10, errored: new Map() },
      delivered,
      { received: 10, duplicates: 0, corrupted: 0 },
      [{ ids: wrongly, opaque: 0 }],
    );
    expect(oneWayReconciled(result)).toBe(false);
    expect(result).toMatchObject({ delivered: 10, overcounted: 1, unaccounted: 0 });
    // And an encrypted dead letter with no loss to match it.
    const extra = reconcileOneWay(
      { first: 0, sent: 10, errored: new Map() },
      delivered,
      { received: 10, duplicates: 0, corrupted: 0 },
      [{ ids: new SeqSet(), opaque: 1 }],
    );
    expect(extra).toMatchObject({ overcounted: 1, unaccounted: 0 });
  });
});
