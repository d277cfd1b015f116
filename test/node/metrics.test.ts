import {
  ForwardingService,
  NodeError,
  RemoteForwarder,
  SecureChannelError,
  TCP,
  TcpTransport,
  TrustAnyIdentity,
  TrustIdentifier,
  createSecureChannel,
  createSecureChannelListener,
  fromSecureChannel,
  nodeMetrics,
  route,
} from '../../src';
import { Echoer, newIdentity } from '../channel/helpers';
import { newNode, stopNodes } from '../helpers/nodes';
import { waitFor } from '../helpers/async';

afterEach(stopNodes);

describe('node.metrics()', () => {
  it('counts messages, dead letters by reason and access refusals of a bare node', async () => {
    const node = newNode();
    const ctx = node.context();
    await node.startWorker('echoer', new Echoer());
    await node.startWorker('guarded', new Echoer(), { access: fromSecureChannel() });
    const before = node.metrics();
    await ctx.request('echoer', 'hi');
    await ctx.send('nowhere', 'x');
    await ctx.send('guarded', 'x');
    const after = node.metrics();
    expect(after.messages.routed - before.messages.routed).toBe(4); // request, reply, two drops
    expect(after.messages.delivered - before.messages.delivered).toBe(2);
    expect(after.deadLetters.byReason['no-route']).toBe(1);
    expect(after.deadLetters.byReason['access-denied']).toBe(1);
    expect(after.deadLetters.total).toBe(2);
    expect(after.accessDenied.accessRules).toBe(1);
    expect(after.workers).toBe(2);
  });

  it('counts connections, channels opened and closed, failed handshakes by code and their latency', async () => {
    const bob = newNode();
    const alice = newNode();
    const bobCtx = bob.context();
    const aliceCtx = alice.context();
    const bobTcp = await TcpTransport.create(bobCtx);
    const aliceTcp = await TcpTransport.create(aliceCtx);
    nodeMetrics(bob).trackTransport('tcp', bobTcp);
    nodeMetrics(alice).trackTransport('tcp', aliceTcp);
    const bobIdentity = await newIdentity();
    const listener = await createSecureChannelListener(bobCtx, bobIdentity, 'listener', {
      trustPolicy: TrustAnyIdentity,
    });
    nodeMetrics(bob).trackListener(listener);
    await bob.startWorker('echoer', new Echoer());
    const address = await bobTcp.listen('127.0.0.1:0');

    const aliceIdentity = await newIdentity();
    const channel = await nodeMetrics(alice).timeHandshake(
      createSecureChannel(aliceCtx, aliceIdentity, route([TCP, address], 'listener'), {
        trustPolicy: TrustIdentifier(bobIdentity.identifier),
      }),
    );
    expect((await aliceCtx.request(route(channel, 'echoer'), 'hello')).body).toBe('hello');
    const refused = nodeMetrics(alice).timeHandshake(
      createSecureChannel(aliceCtx, aliceIdentity, route([TCP, address], 'listener'), {
        trustPolicy: TrustIdentifier('I' + '0'.repeat(40)),
      }),
    );
    await expect(refused).rejects.toBeInstanceOf(SecureChannelError);

    let a = alice.metrics();
    expect(a.transports.tcp).toMatchObject({
      connectionsOpen: 1,
      connectionsOpened: { outgoing: 1, incoming: 0 },
    });
    expect(a.channels.opened).toEqual({ initiator: 1, responder: 0 });
    expect(a.channels.open).toBe(1);
    expect(a.channels.failed).toEqual({ UNTRUSTED: 1 });
    expect(a.channels.handshakeSeconds.count).toBe(1);
    expect(a.channels.handshakeSeconds.counts.at(-1)).toBe(1); // under 10 s
    expect(a.channels.handshakeSeconds.sum).toBeGreaterThan(0);
    await waitFor(() => bob.metrics().channels.opened.responder === 1);
    expect(bob.metrics().transports.tcp!.connectionsOpened).toEqual({ outgoing: 0, incoming: 1 });

    await channel.close();
    await waitFor(() => bob.metrics().channels.open === 0);
    a = alice.metrics();
    expect(a.channels.closed).toEqual({ local: 1 });
    expect(a.channels.open).toBe(0);
    expect(bob.metrics().channels.closed).toEqual({ remote: 1 });
  });

  it('counts forwarders hosted at a hub and relays registered there', async () => {
    const hub = newNode();
    const hubCtx = hub.context();
    const hubTcp = await TcpTransport.create(hubCtx);
    const service = await ForwardingService.start(hubCtx, 'forwarding_service');
    nodeMetrics(hub).trackForwardingService(service);
    const address = await hubTcp.listen('127.0.0.1:0');
    const bob = newNode();
    const bobCtx = bob.context();
    await TcpTransport.create(bobCtx);
    await bob.startWorker('listener', new Echoer());
    const forwarder = await RemoteForwarder.create(bobCtx, route([TCP, address]), 'listener');
    nodeMetrics(bob).trackRemoteForwarder(forwarder);
    expect(hub.metrics().forwarders.hosted).toBe(1);
    expect(bob.metrics().forwarders).toMatchObject({ registered: 1, reconnects: 0, failed: 0 });
    await service.stop();
    expect(hub.metrics().forwarders.hosted).toBe(0);
  });

  it('is one object per node, and a node without tracked components still answers', () => {
    const node = newNode();
    expect(nodeMetrics(node)).toBe(nodeMetrics(node));
    expect(node.metrics()).toMatchObject({
      transports: {},
      channels: { open: 0 },
      forwarders: { hosted: 0 },
    });
    expect(() => node.metrics()).not.toThrow(NodeError);
  });
});
