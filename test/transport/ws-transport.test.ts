import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Address, WS, WSS } from '../../src/core/address';
import { route } from '../../src/core/route';
import { createSecureChannel } from '../../src/channel/create-secure-channel';
import type { SecureChannel } from '../../src/channel/secure-channel';
import { Identity, TrustIdentifier } from '../../src/identity';
import { NodeRuntime } from '../../src/node/node-runtime';
import { ForwardingService } from '../../src/services/forwarding-service';
import { PREAMBLE } from '../../src/transport/frame-parser';
import type { ConnectionClosedEvent, ConnectionRefusedEvent } from '../../src/transport/stream-transport';
import { TcpTransport } from '../../src/transport/tcp/tcp-transport';
import { WebSocketTransport } from '../../src/transport/ws/node-websocket-transport';
import { WEBSOCKET_STREAM_LIMITS } from '../../src/transport/ws/websocket-stream';
import { InMemoryVault } from '../../src/vault';
import { startBob } from '../helpers/alice-and-bob';
import { within } from '../helpers/async';
import { CapturingLogger } from '../helpers/capturing-logger';
import { WS_KIND, startStreamNode, type StreamTestNode } from '../helpers/stream-kinds';
import { Cleanup, FAST_FORWARDER, startEchoer } from '../helpers/tcp-fixtures';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function nextAcceptedClose(hub: StreamTestNode): Promise<ConnectionClosedEvent> {
  return new Promise((resolve) => {
    const listener = (event: ConnectionClosedEvent): void => {
      if (event.outgoing) return;
      hub.transport.off('connectionClosed', listener);
      resolve(event);
    };
    hub.transport.on('connectionClosed', listener);
  });
}

/** A raw `ws` client to a listener at `host:port/path`, terminated after the test. */
async function rawWebSocket(address: string, path = ''): Promise<WebSocket> {
  const socket = new WebSocket(`ws://${address}${path}`);
  socket.on('error', () => undefined);
  cleanup.add(() => socket.terminate());
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** The status line of a plain HTTP GET. */
function httpStatus(address: string, path: string): Promise<number> {
  const [host, port] = address.split('/')[0]!.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A hub as examples/hub.ts with a WebSocket listener beside its TCP one. */
async function startHub(tcpAt = '127.0.0.1:0', wsAt = '127.0.0.1:0/sealroute') {
  const node = new NodeRuntime({ logger: new CapturingLogger() });
  cleanup.add(() => node.stop());
  const tcp = await TcpTransport.create(node);
  const ws = await WebSocketTransport.create(node);
  const ctx = node.context();
  await ForwardingService.start(ctx, 'forwarding_service');
  return { node, tcp, ws, tcpAddress: await tcp.listen(tcpAt), wsAddress: await ws.listen(wsAt) };
}

describe('WebSocketTransport', () => {
  it('parses ws# and wss# hops, and prints them by number', () => {
    expect(Address.parse('ws#127.0.0.1:4000/sealroute')).toEqual(new Address(WS, '127.0.0.1:4000/sealroute'));
    expect(Address.parse('WSS#hub.example:443/sr').type).toBe(WSS);
    expect(new Address(WS, 'h:1/p').toString()).toBe('2#h:1/p');
  });

  it('closes a connection that sends a text message (binary only)', async () => {
    const hub = await startStreamNode(cleanup, WS_KIND);
    const closed = nextAcceptedClose(hub);
    const socket = await rawWebSocket(hub.address);
    socket.send(PREAMBLE);
    socket.send('hello');
    const event = await within(closed, 5_000, 'the hub to close');
    expect(event.reason.code).toBe('PROTOCOL_MISMATCH');
  });

  it('refuses a WebSocket message over its bound before buffering it whole (FRAME_TOO_LARGE)', async () => {
    const hub = await startStreamNode(cleanup, WS_KIND);
    const closed = nextAcceptedClose(hub);
    const socket = await rawWebSocket(hub.address);
    socket.send(new Uint8Array(WEBSOCKET_STREAM_LIMITS.maxMessageBytes + 1));
    const event = await within(closed, 5_000, 'the hub to close');
    expect(event.reason.code).toBe('FRAME_TOO_LARGE');
  });

  it('answers a plain HTTP request 426 and another path 404, without a connection', async () => {
    const hub = await startStreamNode(cleanup, WS_KIND, { listen: '127.0.0.1:0/sealroute' });
    expect(hub.address).toMatch(/^127\.0\.0\.1:\d+\/sealroute$/);
    expect(await httpStatus(hub.address, '/sealroute')).toBe(426);
    await expect(rawWebSocket(hub.address.split('/')[0]!, '/elsewhere')).rejects.toThrow(/404/);
    expect(hub.transport.connections()).toHaveLength(0);
  });

  it('at the per-remote limit evicts an unvouched connection, and refuses when all are vouched', async () => {
    const hub = await startStreamNode(cleanup, WS_KIND, { transport: { maxConnectionsPerRemote: 2 } });
    const refused: ConnectionRefusedEvent[] = [];
    hub.transport.on('connectionRefused', (event) => refused.push(event));
    const a = await rawWebSocket(hub.address);
    a.send(PREAMBLE);
    await rawWebSocket(hub.address);
    const evicted = nextAcceptedClose(hub);
    await rawWebSocket(hub.address);
    expect((await within(evicted, 5_000, 'an eviction')).reason.code).toBe('LIMIT_REACHED');
    expect(hub.transport.stats.evictedUnvouched).toBe(1);
    for (const connection of hub.transport.connections()) connection.vouch();
    await expect(rawWebSocket(hub.address)).rejects.toThrow(/503/);
    expect(refused.map((event) => event.reason.code)).toEqual(['LIMIT_REACHED']);
  });

  it('speaks wss with a certificate, and a client that trusts it', async () => {
    let dir: string;
    try {
      dir = mkdtempSync(join(tmpdir(), 'sealroute-wss-'));
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
    } catch (err) {
      if (process.env.CI === 'true') throw err;
      console.warn('SKIPPED wss test: openssl is missing (apt-get install -y openssl)');
      return;
    }
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const key = readFileSync(join(dir, 'key.pem'), 'utf8');
    const bob = new NodeRuntime({ logger: new CapturingLogger() });
    cleanup.add(() => bob.stop());
    const bobWss = await WebSocketTransport.create(bob, { secure: true, tls: { cert, key } });
    const bound = await bobWss.listen('127.0.0.1:0/secure');
    await startEchoer(bob);
    const alice = new NodeRuntime({ logger: new CapturingLogger() });
    cleanup.add(() => alice.stop());
    await WebSocketTransport.create(alice, { secure: true, tls: { ca: cert } });
    const ctx = alice.context(undefined, { acceptsTransportMessages: true });
    const reply = await ctx.request(route([WSS, bound], 'echoer'), 'over tls', {
      timeout: 5_000,
      acceptsTransportReplies: true,
    });
    expect(reply.body).toBe('over tls');
  });
});

describe('a hub listening on TCP and WebSocket at once', () => {
  it('carries Alice over WebSocket to Bob over TCP in a secure channel, and again after the hub restarts', async () => {
    const hub = await startHub();
    const bob = await startBob(cleanup, hub.tcpAddress, { forwarder: { ...FAST_FORWARDER, name: 'bob' } });
    const alice = new NodeRuntime({ logger: new CapturingLogger() });
    cleanup.add(() => alice.stop());
    const aliceWs = await WebSocketTransport.create(alice);
    const ctx = alice.context();
    const identity = await Identity.create(await InMemoryVault.create());
    const toBob = route([WS, hub.wsAddress], bob.forwarder.forwardingAddress);
    const open = () =>
      createSecureChannel(ctx, identity, toBob, {
        trustPolicy: TrustIdentifier(bob.identity.identifier),
        timeout: 5_000,
      });
    const echo = async (channel: SecureChannel, text: string) =>
      (await ctx.request(route(channel, 'echoer'), text, { timeout: 5_000 })).body;

    const channel = await open();
    for (let i = 0; i < 10; i++) expect(await echo(channel, `hello ${i}`)).toBe(`hello ${i}`);
    expect(bob.received.map((r) => r.from)).toEqual(Array(10).fill(identity.identifier));
    expect(aliceWs.connections()).toHaveLength(1);

    // The hub goes away and comes back on the same ports; Bob registers again by himself.
    const registered = new Promise<string>((resolve) => bob.forwarder.once('registered', resolve));
    await hub.node.stop();
    await startHub(hub.tcpAddress, hub.wsAddress);
    await within(registered, 10_000, 'Bob to register again');
    const fresh = await open();
    expect(await echo(fresh, 'after the restart')).toBe('after the restart');
  });
});
