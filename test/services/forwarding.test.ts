import { randomBytes } from 'node:crypto';
import { TCP } from '../../src/core/address';
import { TRANSPORT_INFO } from '../../src/core/message';
import { route } from '../../src/core/route';
import { ServicesError } from '../../src/services/errors';
import { ForwardingService, type ForwardingServiceOptions } from '../../src/services/forwarding-service';
import { RemoteForwarder, type RemoteForwarderOptions } from '../../src/services/remote-forwarder';
import { nextForwarderEvent } from '../helpers/alice-and-bob';
import { waitFor, within } from '../helpers/async';
import {
  Cleanup,
  FAST_FORWARDER as FAST,
  startEchoer,
  startTcpNode,
  type TcpTestNode,
} from '../helpers/tcp-fixtures';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function startHub(
  listen = '127.0.0.1:0',
  options: ForwardingServiceOptions = {},
): Promise<TcpTestNode & { service: ForwardingService }> {
  const hub = await startTcpNode(cleanup, { listen });
  const service = await ForwardingService.create(hub.ctx, 'forwarding_service', options);
  return { ...hub, service };
}

/** Bob: a node that only connects out, with an echoing `listener`, registered at the hub. */
async function startBob(
  hubAddress: string,
  options: RemoteForwarderOptions = {},
): Promise<TcpTestNode & { forwarder: RemoteForwarder; seen: Awaited<ReturnType<typeof startEchoer>> }> {
  const bob = await startTcpNode(cleanup, { listen: false });
  const seen = await startEchoer(bob.node, 'listener');
  const forwarder = await RemoteForwarder.create(bob.ctx, route([TCP, hubAddress]), 'listener', {
    ...FAST,
    ...options,
  });
  cleanup.add(() => forwarder.stop());
  return { ...bob, forwarder, seen };
}

describe('forwarding through a hub', () => {
  it('lets Alice reach the worker of Bob, who is behind the hub, and get the reply', async () => {
    const hub = await startHub();
    const bob = await startBob(hub.address);
    const alice = await startTcpNode(cleanup, { listen: false });

    expect(bob.forwarder.forwardingAddress).toMatch(/^fwd\.r\.[0-9a-f]{32}$/);
    expect(bob.forwarder.remoteAddress.value).toBe(bob.forwarder.forwardingAddress);
    expect(hub.service.forwarders()).toHaveLength(1);

    await alice.ctx.send(route([TCP, hub.address], bob.forwarder.forwardingAddress), 'hello Bob');
    const reply = await alice.ctx.receive({ timeout: 5_000 });
    expect(reply.body).toBe('hello Bob');
    // Bob's listener saw a transport message: the remote forwarder kept the local info.
    expect(bob.seen[0]!.localInfo[TRANSPORT_INFO]).toBeDefined();
    // Its return route leads back through the hub to Alice.
    expect(bob.seen[0]!.returnRoute.recipient?.equals(alice.ctx.address)).toBe(true);
  });

  it('routes `forwardingAddress => more` to `more` on Bob’s node when listed, subject to its access rules', async () => {
    const hub = await startHub();
    const bob = await startBob(hub.address, { deliverTo: ['listener', 'echoer', 'private'] });
    const echoed = await startEchoer(bob.node, 'echoer');
    const closed = await startEchoer(bob.node, 'private', false);
    const alice = await startTcpNode(cleanup, { listen: false });
    const viaHub = route([TCP, hub.address], bob.forwarder.forwardingAddress);

    await alice.ctx.send(route(viaHub, 'private'), 'let me in');
    await alice.ctx.send(route(viaHub, 'echoer'), 'to the echoer');
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toBe('to the echoer');
    expect(echoed).toHaveLength(1);
    expect(bob.seen).toHaveLength(0);
    expect(closed).toHaveLength(0);
    expect(bob.node.deadLetters.countOf('access-denied')).toBe(1);
  });

  it('does not take a forwarded message for a reply of the hub, whatever its shape', async () => {
    const hub = await startHub();
    const bob = await startBob(hub.address);
    const alice = await startTcpNode(cleanup, { listen: false });
    const fake = { type: 'registered', nonce: '0'.repeat(32), address: 'fwd.evil', token: 'x' };
    await alice.ctx.send(route([TCP, hub.address], bob.forwarder.forwardingAddress), fake);
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toEqual(fake);
    expect(bob.forwarder.forwardingAddress).not.toBe('fwd.evil');
  });

  it('removes the forwarder when Bob’s connection closes', async () => {
    const hub = await startHub();
    const bob = await startBob(hub.address, { heartbeatIntervalMs: 60_000 });
    const alice = await startTcpNode(cleanup, { listen: false });
    const address = bob.forwarder.forwardingAddress;

    await bob.tcp.disconnect(hub.address);
    await waitFor(() => hub.service.forwarders().length === 0, 5_000, 'the forwarder to go');
    expect(hub.node.hasWorker(address)).toBe(false);

    await alice.ctx.send(route([TCP, hub.address], address), 'anyone there?');
    await waitFor(() => hub.node.deadLetters.countOf('no-route') === 1, 5_000, 'a dead letter at the hub');
  });

  it('gets its name back after a reconnect, by itself', async () => {
    const hub = await startHub();
    const bob = await startBob(hub.address, { name: 'bob' });
    const alice = await startTcpNode(cleanup, { listen: false });
    expect(bob.forwarder.forwardingAddress).toBe('fwd.n.bob');

    const lost = nextForwarderEvent(bob.forwarder, 'lost');
    const registered = nextForwarderEvent(bob.forwarder, 'registered');
    // The hub drops Bob's connection; the forwarder dies with it.
    await hub.tcp.disconnect(hub.tcp.connections().find((c) => !c.outgoing)!.address);
    expect(((await within(lost, 5_000, 'Bob to notice')) as ServicesError).code).toBe('FORWARDER_GONE');
    expect(await within(registered, 5_000, 'Bob to register again')).toBe('fwd.n.bob');

    await alice.ctx.send(route([TCP, hub.address], 'fwd.n.bob'), 'still you?');
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toBe('still you?');
  });

  it('does not let a second client take a held name, nor a reserved one', async () => {
    const hub = await startHub();
    const bob = await startBob(hub.address, { name: 'bob', heartbeatIntervalMs: 60_000 });
    const carol = await startTcpNode(cleanup, { listen: false });

    const taken = await RemoteForwarder.create(carol.ctx, route([TCP, hub.address]), 'listener', {
      ...FAST,
      name: 'bob',
    }).catch((err: unknown) => err);
    expect(taken).toBeInstanceOf(ServicesError);
    expect((taken as ServicesError).code).toBe('NAME_TAKEN');
    expect((taken as ServicesError).origin).toBe('services');

    // While Bob is away, his name stays reserved for him.
    await bob.tcp.disconnect(hub.address);
    await waitFor(() => hub.service.forwarders().length === 0, 5_000, 'the forwarder to go');
    await expect(
      RemoteForwarder.create(carol.ctx, route([TCP, hub.address]), 'listener', { ...FAST, name: 'bob' }),
    ).rejects.toMatchObject({ code: 'NAME_TAKEN' });
    expect(carol.node.workers().filter((a) => a.value.startsWith('rf.'))).toHaveLength(0);
  });

  it('frees a reserved name once its reservation expires', async () => {
    const hub = await startHub('127.0.0.1:0', { reattachGraceMs: 0 });
    const bob = await startBob(hub.address, { name: 'bob', heartbeatIntervalMs: 60_000 });
    await bob.tcp.disconnect(hub.address);
    await waitFor(() => hub.service.forwarders().length === 0, 5_000, 'the forwarder to go');
    const carol = await startTcpNode(cleanup, { listen: false });
    const forwarder = await RemoteForwarder.create(carol.ctx, route([TCP, hub.address]), 'listener', {
      ...FAST,
      name: 'bob',
    });
    cleanup.add(() => forwarder.stop());
    expect(forwarder.forwardingAddress).toBe('fwd.n.bob');
  });

  it('notices a hub that went away and registers by itself with the hub that replaced it', async () => {
    const hub = await startHub();
    const bob = await startBob(hub.address, { name: 'bob' });
    const anonymous = await RemoteForwarder.create(bob.ctx, route([TCP, hub.address]), 'listener', FAST);
    cleanup.add(() => anonymous.stop());
    const alice = await startTcpNode(cleanup, { listen: false });
    const lost = nextForwarderEvent(bob.forwarder, 'lost');
    const back = new Promise<void>((resolve) =>
      bob.forwarder.on('registered', () => bob.forwarder.isRegistered && resolve()),
    );
    const anonymousBack = nextForwarderEvent(anonymous, 'registered');
    const oldAnonymous = anonymous.forwardingAddress;

    await hub.node.stop();
    await within(lost, 5_000, 'Bob to notice the hub is gone');
    expect(bob.forwarder.isRegistered).toBe(false);
    // The hub stays away for a few heartbeats; Bob keeps trying, with backoff.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const newHub = await startHub(hub.address);
    await within(back, 10_000, 'Bob to register with the new hub');
    expect(bob.forwarder.forwardingAddress).toBe('fwd.n.bob');
    expect(await within(anonymousBack, 10_000, 'the anonymous forwarder too')).not.toBe(oldAnonymous);

    await alice.ctx.send(route([TCP, newHub.address], 'fwd.n.bob'), 'new hub');
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toBe('new hub');
    await alice.ctx.send(route([TCP, newHub.address], anonymous.forwardingAddress), 'new address');
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toBe('new address');
  });

  it('unregisters when stopped', async () => {
    const hub = await startHub();
    const bob = await startBob(hub.address, { name: 'bob' });
    await bob.forwarder.stop();
    expect(hub.service.forwarders()).toHaveLength(0);
    expect(bob.node.hasWorker(bob.forwarder.address)).toBe(false);
    // The name is free again.
    const again = await RemoteForwarder.create(bob.ctx, route([TCP, hub.address]), 'listener', {
      name: 'bob',
    });
    cleanup.add(() => again.stop());
    expect(again.forwardingAddress).toBe('fwd.n.bob');
  });

  it('fails registration at once when the hub cannot be reached', async () => {
    const gone = await startTcpNode(cleanup);
    const address = gone.address;
    await gone.node.stop();
    const bob = await startTcpNode(cleanup, { listen: false });
    const started = Date.now();
    const failure = await RemoteForwarder.create(bob.ctx, route([TCP, address]), 'listener', FAST).catch(
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(ServicesError);
    expect((failure as ServicesError).code).toBe('REGISTRATION_FAILED');
    expect((failure as ServicesError).message).toContain('ECONNREFUSED');
    expect(Date.now() - started).toBeLessThan(1_500); // the dead letter, not the timeout
  });

  it('refuses an invalid name, on both sides', async () => {
    const hub = await startHub();
    const bob = await startTcpNode(cleanup, { listen: false });
    await expect(
      RemoteForwarder.create(bob.ctx, route([TCP, hub.address]), 'listener', { name: 'not/valid' }),
    ).rejects.toMatchObject({ code: 'INVALID_NAME' });
    await bob.ctx.send(route([TCP, hub.address], 'forwarding_service'), {
      v: 2,
      type: 'register',
      nonce: 'ab'.repeat(16),
      name: 'a.b',
    });
    const reply = await bob.ctx.receive({ timeout: 5_000 });
    expect(reply.body).toMatchObject({ type: 'refused', code: 'INVALID_NAME' });
  });

  it('limits the forwarders of one connection', async () => {
    const hub = await startHub('127.0.0.1:0', { maxForwardersPerConnection: 2 });
    const bob = await startBob(hub.address);
    const second = await RemoteForwarder.create(bob.ctx, route([TCP, hub.address]), 'listener', FAST);
    cleanup.add(() => second.stop());
    await expect(
      RemoteForwarder.create(bob.ctx, route([TCP, hub.address]), 'listener', FAST),
    ).rejects.toMatchObject({
      code: 'LIMIT_REACHED',
    });
  });

  it('keeps an anonymous forwarder for its owner who registers again with its token', async () => {
    const hub = await startHub();
    const bob = await startTcpNode(cleanup, { listen: false });
    const service = route([TCP, hub.address], 'forwarding_service');
    const ask = async (body: object): Promise<Record<string, string>> => {
      await bob.ctx.send(service, { v: 2, nonce: randomBytes(16).toString('hex'), ...body });
      return (await bob.ctx.receive({ timeout: 5_000 })).body as Record<string, string>;
    };
    const first = await ask({ type: 'register' });
    expect(first).toMatchObject({ type: 'registered' });
    const again = await ask({ type: 'register', address: first.address, token: first.token });
    expect(again).toMatchObject({ type: 'registered', address: first.address, token: first.token });
    const forged = await ask({ type: 'register', address: first.address, token: 'f'.repeat(32) });
    expect(forged.address).not.toBe(first.address);
    expect(hub.service.forwarders()).toHaveLength(2);
    // Unregistering needs the token too.
    expect(await ask({ type: 'unregister', address: first.address, token: forged.token })).toMatchObject({
      type: 'refused',
      code: 'NOT_FOUND',
    });
    expect(await ask({ type: 'unregister', address: first.address, token: first.token })).toMatchObject({
      type: 'unregistered',
    });
    expect(hub.service.forwarders().map((f) => f.address.value)).toEqual([forged.address]);
  });

  it('drops unanswerable requests, counted; answers the others with a typed refusal', async () => {
    const hub = await startHub();
    const alice = await startTcpNode(cleanup, { listen: false });
    const service = route([TCP, hub.address], 'forwarding_service');
    await alice.ctx.send(service, { v: 2, type: 'register', nonce: 'short' });
    await alice.ctx.send(service, 'register me');
    await waitFor(() => hub.service.stats().dropped === 2, 5_000, 'two dropped requests');
    // Version 1 (no `v`) and oversized fields get a typed refusal the registrant can read.
    await alice.ctx.send(service, { type: 'register', nonce: 'cd'.repeat(16) });
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toMatchObject({
      type: 'refused',
      code: 'UNSUPPORTED_VERSION',
    });
    await alice.ctx.send(service, { v: 2, type: 'register', nonce: 'ef'.repeat(16), name: 'x'.repeat(64) });
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toMatchObject({ code: 'INVALID_NAME' });
    await alice.ctx.send(service, {
      v: 2,
      type: 'register',
      nonce: '01'.repeat(16),
      name: 'bob',
      claim: { challenge: '0'.repeat(32), key: new Uint8Array(31), sig: new Uint8Array(64) },
    });
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toMatchObject({ code: 'INVALID_REQUEST' });
    expect(hub.service.forwarders()).toHaveLength(0);
    expect(hub.service.stats().refused).toMatchObject({
      UNSUPPORTED_VERSION: 1,
      INVALID_NAME: 1,
      INVALID_REQUEST: 1,
    });
  });
});
