import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { route } from '../../src/core/route';
import { Identity } from '../../src/identity';
import { InMemoryVault } from '../../src/vault';
import { hubPermissions, inboxPrefixOf } from '../../src/federation/permissions';
import { connectNats } from '../../src/federation/nats-bus';
import { EnvelopeKind, PIECE_MAX_BYTES } from '../../src/federation/envelope';
import { nameClaimStatement } from '../../src/services/forwarding-messages';
import { waitFor, within } from '../helpers/async';
import { startAlice } from '../helpers/alice-and-bob';
import { natsServerAvailable, startNatsServer } from '../helpers/nats-server';
import { scaled } from '../helpers/slowdown';
import { Cleanup } from '../helpers/tcp-fixtures';
import { FaultyBus, captureProxy, startFederatedBob, startHub, through, waitForRoute } from './fixtures';

jest.setTimeout(scaled(30_000));

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const describeWithNats = natsServerAvailable() ? describe : describe.skip;

/**
 * Hub A on a `FaultyBus` (with `options`), hub C on plain NATS, Bob registered on C, and Alice's channel to
 * him through A, echoed once.
 */
async function throughFaultyBus(options: Omit<Parameters<typeof startHub>[3], 'bus'> = {}) {
  const nats = await startNatsServer(cleanup);
  const faulty = new FaultyBus(await connectNats({ servers: [nats.url] }));
  const a = await startHub(cleanup, [nats.url], 'a', { ...options, bus: faulty });
  cleanup.add(() => faulty.close());
  const c = await startHub(cleanup, [nats.url], 'c');
  const bob = await startFederatedBob(cleanup, [c.address], 'bob');
  await waitForRoute(a, 'bob', 'c');
  const alice = await startAlice(cleanup);
  const channel = await alice.open(through(a.address, 'bob', 'listener'), bob.identity);
  expect(await alice.echo(channel, 'first')).toBe('first');
  return { faulty, a, c, bob, alice, channel };
}

describeWithNats('a federation of hubs on NATS', () => {
  it('carries a channel from Alice on hub A to Bob on hub C, and NATS sees no plaintext', async () => {
    const nats = await startNatsServer(cleanup);
    const capturedA = await captureProxy(cleanup, nats.url);
    const capturedC = await captureProxy(cleanup, nats.url);
    const a = await startHub(cleanup, [capturedA.url], 'a', { client: { ignoreClusterUpdates: true } });
    const c = await startHub(cleanup, [capturedC.url], 'c', { client: { ignoreClusterUpdates: true } });
    const bob = await startFederatedBob(cleanup, [c.address], 'bob');
    expect(bob.forwarder.hub).toBe(c.address);
    await waitForRoute(a, 'bob', 'c');

    const alice = await startAlice(cleanup);
    const channel = await alice.open(through(a.address, 'bob', 'listener'), bob.identity);
    const secret = 'the plaintext that only Bob may read';
    expect(await within(alice.echo(channel, secret), scaled(5_000), 'the echo')).toBe(secret);
    expect(bob.received).toEqual([{ body: secret, from: alice.identity.identifier }]);

    const fa = a.hub.federation.stats();
    const fc = c.hub.federation.stats();
    expect(fa.sent).toBeGreaterThan(0);
    expect(fc.sent).toBeGreaterThan(0);
    expect(fa.lostTotal + fc.lostTotal).toBe(0);
    for (const captured of [capturedA.bytes(), capturedC.bytes()]) {
      // Hub-to-hub frames did cross this connection, and none of them holds the plaintext.
      expect(captured.includes('sealroute.hub.')).toBe(true);
      expect(captured.includes(secret)).toBe(false);
      expect(captured.includes(Buffer.from(secret, 'utf16le'))).toBe(false);
    }
  });

  it('ignores a forged record of a name, and the holder puts its own back', async () => {
    const nats = await startNatsServer(cleanup);
    const a = await startHub(cleanup, [nats.url], 'a');
    const c = await startHub(cleanup, [nats.url], 'c');
    const bob = await startFederatedBob(cleanup, [c.address], 'bob');
    await waitForRoute(a, 'bob', 'c');

    // Whoever can write to the bucket (a compromised hub, a NATS operator) points bob at hub a, say, with
    // a record that is well-formed but not signed by bob's identity.
    const bus = await connectNats({ servers: [nats.url] });
    cleanup.add(() => bus.close());
    const store = await bus.names('sealroute-names', { replicas: 1, maxBytes: 1 << 20, maxValueSize: 1024 });
    const genuine = (await store.get('bob'))!;
    const record = JSON.parse(Buffer.from(genuine.value!).toString()) as Record<string, unknown>;
    const forged = { ...record, hub: 'x', sig: randomBytes(64).toString('base64') };
    await store.update('bob', Buffer.from(JSON.stringify(forged)), genuine.revision);

    await waitFor(
      () => a.hub.federation.stats().forgedRecords > 0 && c.hub.federation.stats().forgedRecords > 0,
      scaled(5_000),
    );
    expect(a.hub.federation.whereIs('bob')).toBe('c');
    // Hub c, whose record was overwritten, wrote it back.
    const hubOfRecord = async () => JSON.parse(Buffer.from((await store.get('bob'))!.value!).toString()).hub;
    const deadline = Date.now() + scaled(5_000);
    while ((await hubOfRecord()) !== 'c' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(await hubOfRecord()).toBe('c');

    const alice = await startAlice(cleanup);
    const channel = await alice.open(through(a.address, 'bob', 'listener'), bob.identity);
    expect(await alice.echo(channel, 'still Bob')).toBe('still Bob');
  });

  it('gives each of 1,000 names raced for by two hubs exactly one owner', async () => {
    const nats = await startNatsServer(cleanup);
    const a = await startHub(cleanup, [nats.url], 'a');
    const c = await startHub(cleanup, [nats.url], 'c');
    const vault = await InMemoryVault.create();
    const owners = [await Identity.create(vault), await Identity.create(vault)];
    const names = Array.from({ length: 1_000 }, (_, i) => `name-${i}`);
    const claims = async (hub: typeof a, owner: Identity) =>
      Promise.all(
        names.map(async (name) => {
          const challenge = randomBytes(16).toString('hex');
          const instance = hub.hub.service.hub;
          const sig = await owner.sign(nameClaimStatement(instance, challenge, name, owner.publicKey));
          return { name, owner, instance, challenge, sig };
        }),
      );
    const [forA, forC] = await Promise.all([claims(a, owners[0]!), claims(c, owners[1]!)]);
    const claim = (hub: typeof a, x: (typeof forA)[number]) =>
      hub.hub.federation.claim({
        name: x.name,
        owner: x.owner.identifier,
        instance: x.instance,
        challenge: x.challenge,
        key: x.owner.publicKey,
        sig: x.sig,
      });
    // Interleaved, all at once: every name is raced for by both hubs.
    const outcomes = await Promise.all(names.flatMap((_, i) => [claim(a, forA[i]!), claim(c, forC[i]!)]));
    const bus = await connectNats({ servers: [nats.url] });
    cleanup.add(() => bus.close());
    const store = await bus.names('sealroute-names', { replicas: 1, maxBytes: 1 << 20, maxValueSize: 1024 });
    let wonByA = 0;
    for (let i = 0; i < names.length; i++) {
      const [byA, byC] = [outcomes[2 * i], outcomes[2 * i + 1]];
      // Exactly one of the two was granted; the other was told NAME_TAKEN.
      expect([byA, byC].filter((o) => o === undefined)).toHaveLength(1);
      expect([byA?.code, byC?.code].filter((code) => code === 'NAME_TAKEN')).toHaveLength(1);
      const winner = byA === undefined ? 'a' : 'c';
      if (winner === 'a') wonByA++;
      const stored = JSON.parse(Buffer.from((await store.get(names[i]!))!.value!).toString());
      expect(stored.hub).toBe(winner);
      expect(stored.owner).toBe(owners[winner === 'a' ? 0 : 1]!.identifier);
    }
    // Both hubs agree on every name once their watches caught up.
    await waitFor(
      () => names.every((name) => a.hub.federation.whereIs(name) === c.hub.federation.whereIs(name)),
      scaled(10_000),
    );
    expect(a.hub.federation.stats().localNames).toBe(wonByA);
    expect(c.hub.federation.stats().localNames).toBe(names.length - wonByA);
    expect(a.hub.federation.stats().remoteNames).toBe(names.length - wonByA);
    // One worker relays for every remote name (at an address of each), not a worker per name.
    for (const hub of [a, c]) expect(hub.node.workers().length).toBeLessThan(20);
  });

  it('lets a hub subscribe to its own subject only (NATS permissions of docs/federation.md)', async () => {
    const users = ['a', 'c'].map((hub) => ({
      user: hub,
      password: `secret-${hub}`,
      permissions: hubPermissions(hub),
    }));
    const nats = await startNatsServer(cleanup, {
      config: `authorization { users: ${JSON.stringify(users)} }\n`,
    });
    const client = (hub: string) => ({ user: hub, pass: `secret-${hub}`, inboxPrefix: inboxPrefixOf(hub) });
    // The permissions are enough to run a hub: a name registered at c is reachable through a.
    const a = await startHub(cleanup, [nats.url], 'a', { client: client('a') });
    const c = await startHub(cleanup, [nats.url], 'c', { client: client('c') });
    const bob = await startFederatedBob(cleanup, [c.address], 'bob');
    await waitForRoute(a, 'bob', 'c');
    const alice = await startAlice(cleanup);
    const channel = await alice.open(through(a.address, 'bob', 'listener'), bob.identity);
    expect(await alice.echo(channel, 'permitted')).toBe('permitted');

    // Hub c's credentials cannot read hub a's subject, nor a's replies.
    const nc = await connect({ servers: nats.url, ...client('c') });
    cleanup.add(() => nc.close());
    for (const subject of ['sealroute.hub.a', `${inboxPrefixOf('a')}.x`, '>']) {
      const refused = new Promise<Error>((resolve) =>
        nc.subscribe(subject, { callback: (err: Error | null) => err && resolve(err) }),
      );
      const err = await within(refused, scaled(5_000), `the refusal of ${subject}`);
      expect(err.message).toMatch(/permissions violation/i);
    }
  });

  it('counts every frame NATS lost between hubs', async () => {
    const { faulty, c, bob, alice, channel } = await throughFaultyBus();

    faulty.drop = (i) => i % 2 === 1;
    for (let i = 0; i < 10; i++) await alice.ctx.send(route(channel, 'echoer'), `frame ${i}`);
    await waitFor(() => faulty.dataFrames >= faulty.dropped * 2 && faulty.dropped >= 5, 5_000);
    faulty.drop = () => false;
    expect(await alice.echo(channel, 'last')).toBe('last');

    // Hub c saw each gap in hub a's numbering: exactly the frames the bus dropped, none silently.
    expect(c.hub.federation.stats().lost.inTransit).toBe(faulty.dropped);
    expect(bob.received.filter((r) => String(r.body).startsWith('frame '))).toHaveLength(10 - 5);
  });

  it('carries frames larger than one socket read across NATS in pieces, whole and in order', async () => {
    const { faulty, a, c, alice, channel } = await throughFaultyBus();
    const texts = [70_000, 200_000, 40_000, 3].map((length, i) => String(i).repeat(length));
    for (const text of texts) expect(await alice.echo(channel, text)).toBe(text);
    // Large frames (each large message is one or more) went as PARTs and a LAST, none over the limit.
    const lasts = faulty.pieces.filter((p) => p.kind === EnvelopeKind.LAST).length;
    expect(lasts).toBeGreaterThanOrEqual(3);
    expect(faulty.pieces.length).toBeGreaterThan(lasts);
    expect(Math.max(...faulty.pieces.map((p) => p.size))).toBeLessThanOrEqual(PIECE_MAX_BYTES);
    expect(a.hub.federation.stats().lostTotal + c.hub.federation.stats().lostTotal).toBe(0);
  });

  it('loses a frame whose piece NATS lost, counted, and goes on with the next', async () => {
    const { faulty, c, bob, alice, channel } = await throughFaultyBus();
    faulty.dropPiece = (i) => i === 1; // the second piece of a one-frame message
    await alice.ctx.send(route(channel, 'echoer'), 'x'.repeat(50_000));
    await waitFor(() => faulty.pieces.some((p) => p.kind === EnvelopeKind.LAST), scaled(5_000));
    faulty.dropPiece = () => false;
    const next = 'y'.repeat(50_000);
    expect(await alice.echo(channel, next)).toBe(next);
    // Hub c counted the broken frame lost at the next one's arrival; Bob never saw it.
    expect(c.hub.federation.stats().lost.inTransit).toBe(1);
    expect(bob.received.some((r) => String(r.body).startsWith('x'))).toBe(false);
  });

  it('confirms small frames toward NATS with a flush per tick, not one per frame', async () => {
    const { faulty, alice, channel } = await throughFaultyBus({ ackIntervalMs: 2_000 });
    await waitFor(() => faulty.flushes > 0, 5_000); // the tick confirms what the handshake published

    const before = faulty.flushes;
    const frames = faulty.dataFrames;
    for (let i = 0; i < 20; i++) expect(await alice.echo(channel, `echo ${i}`)).toBe(`echo ${i}`);
    expect(faulty.dataFrames - frames).toBeGreaterThanOrEqual(20);
    // A flush per frame (a PING and a PONG each) would be 20; a tick every 2 s allows a few.
    expect(faulty.flushes - before).toBeLessThan(10);
    await waitFor(() => faulty.flushes > before, 5_000);
  });

  it('bounds the bytes queued toward NATS: a frame that finds no room in time is dropped and counted', async () => {
    const { faulty, a, alice, channel } = await throughFaultyBus({
      maxQueueBytes: 64 * 1024,
      flushTimeoutMs: 100,
    });

    faulty.holdFlushes = true; // the server stops confirming: nothing drains the queue
    const dropped: string[] = [];
    a.node.deadLetters.on('deadLetter', (letter) => dropped.push(letter.detail));
    const chunk = 'x'.repeat(16 * 1024);
    for (let i = 0; i < 8; i++) await alice.ctx.send(route(channel, 'echoer'), chunk);
    await waitFor(() => a.hub.federation.stats().lost.queueFull > 0, 5_000);
    expect(dropped.some((detail) => /queue toward NATS/.test(detail))).toBe(true);
    expect(a.hub.federation.stats().lost.queueFull).toBe(
      dropped.filter((d) => /queue toward NATS/.test(d)).length,
    );
  });
});
