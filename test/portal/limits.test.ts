import net from 'node:net';
import { Address, TCP } from '../../src/core/address';
import type { Routed } from '../../src/core/message';
import { route } from '../../src/core/route';
import { TrustAnyIdentity } from '../../src/identity';
import { PortalError } from '../../src/services/portal/errors';
import { decodePortalMessage, encodeData, encodeOpen } from '../../src/services/portal/messages';
import { createTcpInlet } from '../../src/services/portal/tcp-inlet';
import { createTcpOutlet } from '../../src/services/portal/tcp-outlet';
import { startAlice } from '../helpers/alice-and-bob';
import { waitFor, within } from '../helpers/async';
import { Cleanup } from '../helpers/tcp-fixtures';
import { connectTo, readAll, startEchoServer, startPortal } from './portal-fixtures';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function nextClose(end: {
  once: (e: 'sessionClosed', f: (i: unknown, e: PortalError | undefined) => void) => unknown;
}) {
  return within(
    new Promise<PortalError | undefined>((resolve) => end.once('sessionClosed', (_i, e) => resolve(e))),
    10_000,
  );
}

describe('TCP portal limits', () => {
  it('an inlet at maxSessions resets one more connection, logs and counts it', async () => {
    const echo = await startEchoServer(cleanup);
    const portal = await startPortal(cleanup, echo.address, { inlet: { maxSessions: 2 } });
    await connectTo(cleanup, portal.inlet.address);
    await connectTo(cleanup, portal.inlet.address);
    await waitFor(() => portal.inlet.sessionCount === 2);
    const refused = within(
      new Promise<PortalError>((resolve) => portal.inlet.once('refused', resolve)),
      5_000,
    );
    const third = net.connect(Number(portal.inlet.address.split(':')[1]), '127.0.0.1');
    cleanup.add(() => third.destroy());
    expect((await readAll(third)).error?.code).toBe('ECONNRESET');
    expect((await refused).code).toBe('LIMIT_REACHED');
    expect(portal.inlet.stats.limits.sessions).toBe(1);
    expect(portal.alice.logger.at('warn').some((e) => e.msg?.includes('maxSessions'))).toBe(true);
  });

  it('an outlet at maxSessionsPerChannel refuses one more OPEN through that channel', async () => {
    const echo = await startEchoServer(cleanup);
    const portal = await startPortal(cleanup, echo.address, { outlet: { maxSessionsPerChannel: 2 } });
    await connectTo(cleanup, portal.inlet.address);
    await connectTo(cleanup, portal.inlet.address);
    await waitFor(() => portal.outlet.stats.sessionsOpened === 2);
    const closed = nextClose(portal.inlet);
    const third = await connectTo(cleanup, portal.inlet.address);
    expect((await readAll(third)).error?.code).toBe('ECONNRESET');
    expect((await closed)?.code).toBe('LIMIT_REACHED');
    expect(portal.outlet.stats.limits.sessionsPerChannel).toBe(1);
    expect(portal.bob.logger.at('warn').some((e) => e.msg?.includes('maxSessionsPerChannel'))).toBe(true);
  });

  it('an outlet at maxSessions refuses one more OPEN', async () => {
    const echo = await startEchoServer(cleanup);
    const portal = await startPortal(cleanup, echo.address, { outlet: { maxSessions: 1 } });
    await connectTo(cleanup, portal.inlet.address);
    await waitFor(() => portal.outlet.stats.sessionsOpened === 1);
    const closed = nextClose(portal.inlet);
    const second = await connectTo(cleanup, portal.inlet.address);
    expect((await readAll(second)).error?.code).toBe('ECONNRESET');
    expect((await closed)?.code).toBe('LIMIT_REACHED');
    expect(portal.outlet.stats.limits.sessions).toBe(1);
  });

  it('an idle session is reset after idleTimeoutMs at the outlet, logged and counted at both ends', async () => {
    const echo = await startEchoServer(cleanup);
    const portal = await startPortal(cleanup, echo.address, { outlet: { idleTimeoutMs: 300 } });
    const client = await connectTo(cleanup, portal.inlet.address);
    const closed = nextClose(portal.inlet);
    expect((await readAll(client)).error?.code).toBe('ECONNRESET');
    expect((await closed)?.code).toBe('IDLE_TIMEOUT');
    expect(portal.outlet.stats.limits.idleTimeout).toBe(1);
    expect(portal.outlet.stats.errors.IDLE_TIMEOUT).toBe(1);
    expect(portal.bob.logger.at('warn').some((e) => e.msg?.includes('idle'))).toBe(true);
  });

  it('a peer that sends beyond its window is reset, logged and counted; another channel cannot reach a session', async () => {
    const echo = await startEchoServer(cleanup);
    const carol = await startAlice(cleanup); // also allowed, with a channel of her own
    const portal = await startPortal(cleanup, echo.address, {
      outlet: { windowBytes: 4096, access: TrustAnyIdentity },
    });
    // A hand-made inlet session on Alice's node that speaks the protocol and then breaks it.
    const received: Routed[] = [];
    const evil = Address.local('~evil');
    await portal.alice.node.startWorker(evil, {
      handleMessage: (_ctx, message) => void received.push(message),
    });
    await portal.alice.ctx.sendFrom(evil, route(portal.channel, 'service'), encodeOpen(false, 65_536));
    await waitFor(() => received.length === 1, 5_000, 'OPENED');
    expect(decodePortalMessage(received[0]!.body as Uint8Array).kind).toBe('OPENED');
    const session = received[0]!.returnRoute; // [Alice's encryptor, Bob's ~po.…]

    // Carol knows the session's address and has a channel to Bob: Bob's node refuses her message.
    const carolChannel = await carol.open(
      route([TCP, portal.proxy.address], portal.bob.forwarder.forwardingAddress),
      portal.bob.identity,
    );
    const denied = portal.bob.node.deadLetters.countOf('access-denied');
    await carol.ctx.send(route(carolChannel, session.recipient!), encodeData(Buffer.from('injected')));
    await waitFor(
      () => portal.bob.node.deadLetters.countOf('access-denied') === denied + 1,
      5_000,
      'the refusal',
    );
    expect(portal.outlet.stats.bytesReceived).toBe(0);

    // 6,000 bytes at once: more than the outlet's window of 4,096.
    await portal.alice.ctx.sendFrom(evil, session, encodeData(Buffer.alloc(6_000, 1)));
    await waitFor(
      () => received.some((m) => decodePortalMessage(m.body as Uint8Array).kind === 'RST'),
      5_000,
      'RST',
    );
    const rst = received.map((m) => decodePortalMessage(m.body as Uint8Array)).find((m) => m.kind === 'RST');
    expect(rst).toEqual({ kind: 'RST', reason: 'PROTOCOL' });
    expect(portal.outlet.stats.limits.windowExceeded).toBe(1);
    expect(portal.outlet.stats.errors.PROTOCOL).toBe(1);
    expect(portal.bob.logger.at('warn').some((e) => e.msg?.includes('protocol violation'))).toBe(true);
  });

  it('close() resets the open sessions at both ends and resolves closed()', async () => {
    let targetClosed = 0;
    const server = net.createServer((socket) =>
      socket.on('close', () => targetClosed++).on('error', () => undefined),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.add(() => new Promise((resolve) => server.close(resolve)));
    const portal = await startPortal(cleanup, `127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    const client = await connectTo(cleanup, portal.inlet.address);
    await waitFor(() => portal.outlet.stats.sessionsOpened === 1);
    const read = readAll(client);
    await portal.inlet.close();
    await within(portal.inlet.closed(), 1_000);
    expect((await read).error?.code).toBe('ECONNRESET');
    await waitFor(
      () => targetClosed === 1 && portal.outlet.sessionCount === 0,
      5_000,
      'the target connection closed',
    );
    expect(portal.outlet.stats.errors).toEqual({ CLOSED: 1 });
  });
});

describe('TCP portal options', () => {
  it('are checked at construction, naming the option', async () => {
    const alice = await startAlice(cleanup);
    const ctx = alice.ctx;
    await expect(createTcpOutlet(ctx, 'x', '127.0.0.1:1', {} as never)).rejects.toMatchObject({
      name: 'PortalError',
      code: 'INVALID_OPTION',
      message: expect.stringContaining('access'),
    });
    await expect(createTcpOutlet(ctx, 'x', 'nowhere', { access: [] })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    });
    await expect(
      createTcpOutlet(ctx, 'x', '127.0.0.1:1', { access: [], windowBytes: 10 }),
    ).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('TcpOutletOptions.windowBytes must be an integer in 1024..'),
    });
    await expect(createTcpInlet(ctx, '127.0.0.1:0', route('x'), { maxSessions: 0 })).rejects.toMatchObject({
      message: expect.stringContaining('TcpInletOptions.maxSessions'),
    });
    const taken = await createTcpInlet(ctx, '127.0.0.1:0', route('x'));
    cleanup.add(() => taken.close());
    await expect(createTcpInlet(ctx, taken.address, route('x'))).rejects.toMatchObject({
      code: 'BIND_FAILED',
    });
  });
});
