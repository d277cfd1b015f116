import { Address, TCP } from '../../src/core/address';
import { TRANSPORT_INFO } from '../../src/core/message';
import { route } from '../../src/core/route';
import { TransportError } from '../../src/transport/errors';
import type { TcpTransportInfo } from '../../src/transport/tcp/tcp-connection';
import { TcpTransport, type ConnectionClosedEvent } from '../../src/transport/tcp/tcp-transport';
import { until, waitFor, within } from '../helpers/async';
import { Cleanup, openSocketHandles, startEchoer, startTcpNode } from '../helpers/tcp-fixtures';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('TcpTransport', () => {
  it('carries a request and its reply between two nodes', async () => {
    const alice = await startTcpNode(cleanup, { listen: false });
    const bob = await startTcpNode(cleanup);
    const seen = await startEchoer(bob.node);

    await alice.ctx.send(route([TCP, bob.address], 'echoer'), { text: 'hello', n: [1, 2] });
    const reply = await alice.ctx.receive({ timeout: 5_000 });

    expect(reply.body).toEqual({ text: 'hello', n: [1, 2] });
    // At Bob, the return route starts with Bob's connection worker, which the transport info names.
    const atBob = seen[0]!;
    const bobInfo = atBob.localInfo[TRANSPORT_INFO] as TcpTransportInfo;
    expect(atBob.returnRoute.next?.equals(bobInfo.connection)).toBe(true);
    expect(atBob.returnRoute.at(1)?.equals(alice.ctx.address)).toBe(true);
    expect(bobInfo.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    // At Alice, the reply came over her outgoing connection to Bob.
    const aliceInfo = reply.localInfo[TRANSPORT_INFO] as TcpTransportInfo;
    expect(aliceInfo.remote).toBe(bob.address);
    expect(aliceInfo.connection.equals(alice.tcp.connection(bob.address)!.address)).toBe(true);
  });

  it.each([
    ['a string', 'hello ✓'],
    ['bytes', new Uint8Array([0, 1, 255])],
    ['a CBOR object', { nested: { ok: true }, list: [1, 'two', null] }],
  ])('keeps %s body intact across the wire', async (_kind, body) => {
    const alice = await startTcpNode(cleanup, { listen: false });
    const bob = await startTcpNode(cleanup);
    await startEchoer(bob.node);
    await alice.ctx.send(route([TCP, bob.address], 'echoer'), body);
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toEqual(body);
  });

  it('routes through two hubs in a chain and back when the first is told to relay', async () => {
    const alice = await startTcpNode(cleanup, { listen: false });
    const hub1 = await startTcpNode(cleanup, { tcp: { relayTransportMessages: true } });
    const hub2 = await startTcpNode(cleanup);
    const seen = await startEchoer(hub2.node);

    await alice.ctx.send(route([TCP, hub1.address], [TCP, hub2.address], 'echoer'), 'through two hubs');
    const reply = await alice.ctx.receive({ timeout: 5_000 });

    expect(reply.body).toBe('through two hubs');
    // hub2's connection from hub1, then hub1's connection from Alice, then Alice.
    expect(seen[0]!.returnRoute.length).toBe(3);
    expect(seen[0]!.returnRoute.recipient?.equals(alice.ctx.address)).toBe(true);
  });

  it('does not relay messages from its connections to further TCP hops unless told to', async () => {
    const alice = await startTcpNode(cleanup, { listen: false });
    const hub1 = await startTcpNode(cleanup);
    const hub2 = await startTcpNode(cleanup);
    await startEchoer(hub2.node);
    await startEchoer(hub1.node);

    await alice.ctx.send(route([TCP, hub1.address], [TCP, hub2.address], 'echoer'), 'relay me');
    await alice.ctx.send(route([TCP, hub1.address], 'echoer'), 'but answer me');
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toBe('but answer me');
    expect(hub1.node.deadLetters.countOf('access-denied')).toBe(1);
    expect(hub1.tcp.connections().filter((c) => c.outgoing)).toHaveLength(0);
  });

  it('bounds its outgoing connections', async () => {
    const alice = await startTcpNode(cleanup, { listen: false, tcp: { maxOutgoingConnections: 1 } });
    const bob = await startTcpNode(cleanup);
    const carol = await startTcpNode(cleanup);
    await alice.tcp.connect(bob.address);
    await expect(alice.tcp.connect(carol.address)).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
    await alice.ctx.send(route([TCP, carol.address], 'echoer'), 'x');
    expect(alice.node.deadLetters.recent()[0]).toMatchObject({ reason: 'undeliverable' });
    expect(alice.node.deadLetters.recent()[0]!.detail).toContain('maximum of 1 outgoing');
  });

  it('connects on first use, and connect() returns that same connection', async () => {
    const alice = await startTcpNode(cleanup, { listen: false });
    const bob = await startTcpNode(cleanup);
    await startEchoer(bob.node);
    const opened: string[] = [];
    bob.tcp.on('connectionOpened', (event) => opened.push(event.remote));

    expect(alice.tcp.connections()).toHaveLength(0);
    await alice.ctx.send(route([TCP, bob.address], 'echoer'), 'auto');
    await alice.ctx.receive({ timeout: 5_000 });

    const address = await alice.tcp.connect(bob.address);
    // Unguessable: knowing one connection's address must not reveal another's.
    expect(address.value).toMatch(/^tcp\.c\.[0-9a-f]{32}$/);
    expect(alice.tcp.connections()).toHaveLength(1);
    expect(alice.tcp.connection(bob.address)!.address.equals(address)).toBe(true);
    expect(opened).toHaveLength(1);
  });

  it('sends to a connection by its local address', async () => {
    const alice = await startTcpNode(cleanup, { listen: false });
    const bob = await startTcpNode(cleanup);
    await startEchoer(bob.node);
    const connection = await alice.tcp.connect(bob.address);
    await alice.ctx.send(route(connection, 'echoer'), 'by address');
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toBe('by address');
  });

  it('fails connect() with CONNECT_FAILED and turns queued messages into undeliverable dead letters', async () => {
    const alice = await startTcpNode(cleanup, { listen: false });
    const gone = await startTcpNode(cleanup);
    const address = gone.address;
    await gone.node.stop();

    const failure = await alice.tcp.connect(address).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(TransportError);
    expect((failure as TransportError).code).toBe('CONNECT_FAILED');
    expect((failure as TransportError).origin).toBe('transport');
    expect((failure as TransportError).message).toContain('ECONNREFUSED');

    await alice.ctx.send(route([TCP, address], 'echoer'), 'one');
    await alice.ctx.send(route([TCP, address], 'echoer'), 'two');
    await until(
      alice.node.deadLetters,
      'deadLetter',
      () => alice.node.deadLetters.countOf('undeliverable') === 2,
      5_000,
      'two dead letters',
    );
    const letters = alice.node.deadLetters.recent().filter((letter) => letter.reason === 'undeliverable');
    expect(letters.map((letter) => letter.message.body)).toEqual(['one', 'two']);
    expect(letters[0]!.detail).toContain('ECONNREFUSED');
  });

  it('refuses an invalid TCP address as a dead letter, and in connect()', async () => {
    const alice = await startTcpNode(cleanup, { listen: false });
    await alice.ctx.send(route([TCP, 'no-port-here'], 'echoer'), 'x');
    expect(alice.node.deadLetters.countOf('undeliverable')).toBe(1);
    await expect(alice.tcp.connect('host:99999')).rejects.toMatchObject({ code: 'INVALID_ADDRESS' });
  });

  it('reconnects on the next message after the peer node restarts', async () => {
    const alice = await startTcpNode(cleanup, { listen: false });
    const bob = await startTcpNode(cleanup);
    await startEchoer(bob.node);
    await alice.ctx.send(route([TCP, bob.address], 'echoer'), 'before');
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toBe('before');
    const first = alice.tcp.connection(bob.address)!;

    await bob.node.stop();
    const reason = await within(first.closed(), 5_000, 'the connection closing');
    expect(reason.code).toBe('CONNECTION_CLOSED');

    const bobAgain = await startTcpNode(cleanup, { listen: bob.address });
    await startEchoer(bobAgain.node);
    await alice.ctx.send(route([TCP, bob.address], 'echoer'), 'after');
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toBe('after');
    expect(alice.tcp.connection(bob.address)!.address.equals(first.address)).toBe(false);
    // connect() can be awaited again too.
    await expect(alice.tcp.connect(bob.address)).resolves.toBeInstanceOf(Address);
  });

  it('reports closes on both sides, with the reason, and closed() resolves', async () => {
    const alice = await startTcpNode(cleanup, { listen: false });
    const bob = await startTcpNode(cleanup);
    const aliceClosed: ConnectionClosedEvent[] = [];
    const bobClosed: ConnectionClosedEvent[] = [];
    alice.tcp.on('connectionClosed', (event) => aliceClosed.push(event));
    bob.tcp.on('connectionClosed', (event) => bobClosed.push(event));

    const address = await alice.tcp.connect(bob.address);
    await until(
      bob.tcp,
      'connectionOpened',
      () => bob.tcp.connections().length === 1,
      5_000,
      'bob to accept',
    );
    const atBob = bob.tcp.connections()[0]!;
    await alice.tcp.disconnect(address);

    expect((await within(atBob.closed(), 5_000, 'bob side closed')).code).toBe('CONNECTION_CLOSED');
    expect(aliceClosed).toMatchObject([{ address, remote: bob.address, outgoing: true }]);
    expect(aliceClosed[0]!.reason.code).toBe('CLOSED_LOCALLY');
    expect(bobClosed).toHaveLength(1);
    expect(bobClosed[0]!.outgoing).toBe(false);
    // The connection's worker stops once it has closed.
    await until(
      alice.node,
      'workerStopped',
      () => !alice.node.hasWorker(address),
      5_000,
      'the worker to stop',
    );
  });

  it('drops a peer message for a worker that did not opt in to transport messages, and logs it', async () => {
    const alice = await startTcpNode(cleanup, { listen: false });
    const bob = await startTcpNode(cleanup);
    const seen = await startEchoer(bob.node, 'echoer', false);
    await startEchoer(bob.node, 'open-echoer', true);

    await alice.ctx.send(route([TCP, bob.address], 'echoer'), 'plaintext injected by a peer');
    // A message sent after it does arrive (same connection, same order), so the first was handled by then.
    await alice.ctx.send(route([TCP, bob.address], 'open-echoer'), 'allowed');
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toBe('allowed');

    expect(seen).toHaveLength(0);
    expect(bob.node.deadLetters.countOf('access-denied')).toBe(1);
    const logged = bob.logger
      .at('warn')
      .filter((entry) => (entry.obj as { reason?: string }).reason === 'access-denied');
    expect(logged).toHaveLength(1);
    expect(logged[0]!.msg).toContain('transport');
  });

  it('refuses to send a message over the frame limit, without closing the connection', async () => {
    const alice = await startTcpNode(cleanup, { listen: false, tcp: { maxFrameSize: 1024 } });
    const bob = await startTcpNode(cleanup);
    await startEchoer(bob.node);

    await alice.ctx.send(route([TCP, bob.address], 'echoer'), 'x'.repeat(2000));
    await alice.ctx.send(route([TCP, bob.address], 'echoer'), 'small');
    expect((await alice.ctx.receive({ timeout: 5_000 })).body).toBe('small');
    expect(alice.node.deadLetters.countOf('undeliverable')).toBe(1);
    expect(alice.node.deadLetters.recent()[0]!.detail).toContain('exceeds');
  });

  it('stops cleanly: no sockets or servers are left open', async () => {
    // Sockets of earlier tests close asynchronously after their nodes stopped.
    await waitFor(() => openSocketHandles() === 0, 2_000, 'sockets of earlier tests to close');
    const alice = await startTcpNode(cleanup);
    const bob = await startTcpNode(cleanup);
    await startEchoer(bob.node);
    await startEchoer(alice.node);
    await alice.ctx.send(route([TCP, bob.address], 'echoer'), 'a');
    await bob.ctx.send(route([TCP, alice.address], 'echoer'), 'b');
    await alice.ctx.receive({ timeout: 5_000 });
    await bob.ctx.receive({ timeout: 5_000 });
    expect(openSocketHandles()).toBe(6); // two servers, two connections with two ends each

    await within(Promise.all([alice.node.stop(), bob.node.stop()]), 5_000, 'both nodes to stop');
    await waitFor(() => openSocketHandles() === 0, 2_000, 'every socket to close');
  });

  it('is the only TCP router of its node', async () => {
    const alice = await startTcpNode(cleanup, { listen: false });
    await expect(TcpTransport.create(alice.node)).rejects.toMatchObject({ code: 'ADDRESS_IN_USE' });
  });

  it('stop() on the transport closes its listener', async () => {
    const alice = await startTcpNode(cleanup, { listen: false });
    const bob = await startTcpNode(cleanup);
    await bob.tcp.stop();
    await expect(alice.tcp.connect(bob.address)).rejects.toMatchObject({ code: 'CONNECT_FAILED' });
    expect(() => bob.tcp.connection('x')).not.toThrow();
    await expect(bob.tcp.listen()).rejects.toMatchObject({ code: 'TRANSPORT_STOPPED' });
  });
});
