// The browser story's other parties, in one process: a hub listening on TCP (for Bob) and on WebSocket (for
// Alice's page), Bob behind it (an echoer behind a secure channel listener, reached through his forwarder),
// and a static server for the page and the browser bundle (dist/sealroute.browser.js, `npm run build`).
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import {
  Context,
  ForwardingAddress,
  ForwardingService,
  Identity,
  InMemoryVault,
  NodeRuntime,
  RemoteForwarder,
  TCP,
  TcpTransport,
  TrustAnyIdentity,
  WebSocketTransport,
  createSecureChannelListener,
  fromSecureChannel,
  route,
  silentLogger,
  type Logger,
} from '../../src';

/** Where `npm run build` puts the browser bundle. */
export const DEFAULT_BUNDLE_DIR = resolve(__dirname, '..', '..', 'dist');

/** What the static server serves, and from where: the page, its script, and the bundle with its map. */
function files(bundleDir: string): Record<string, [string, string]> {
  return {
    '/': [join(__dirname, 'index.html'), 'text/html; charset=utf-8'],
    '/index.html': [join(__dirname, 'index.html'), 'text/html; charset=utf-8'],
    '/app.js': [join(__dirname, 'app.js'), 'text/javascript; charset=utf-8'],
    '/sealroute.browser.js': [join(bundleDir, 'sealroute.browser.js'), 'text/javascript; charset=utf-8'],
    '/sealroute.browser.js.map': [join(bundleDir, 'sealroute.browser.js.map'), 'application/json'],
  };
}

/** The running demo. */
export interface BrowserDemo {
  /** The page, with the hub and Bob's forwarding address filled in. */
  readonly url: string;
  /** The hub's WebSocket listener (`host:port/path`) and TCP listener (`host:port`). */
  readonly hubWs: string;
  readonly hubTcp: string;
  /** Bob's forwarding address, as Alice pastes it. */
  readonly forwardingAddress: string;
  readonly bob: Identity;
  /** What Bob's echoer received, in order. */
  readonly received: unknown[];
  stop(): Promise<void>;
}

/** Options of `startBrowserDemo`. */
export interface BrowserDemoOptions {
  readonly logger?: Logger;
  /** Where Bob reaches the hub, given its TCP listener (a test puts a tampering proxy in between). */
  readonly bobHub?: (hubTcp: string) => Promise<string>;
  /** The folder holding sealroute.browser.js. Default `DEFAULT_BUNDLE_DIR` (dist/). */
  readonly bundleDir?: string;
}

/** Starts the hub, Bob and the static server on free ports of 127.0.0.1. */
export async function startBrowserDemo(options: BrowserDemoOptions = {}): Promise<BrowserDemo> {
  const logger = options.logger ?? silentLogger;
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async (): Promise<void> => {
    for (const step of stops.reverse()) await step().catch(() => undefined);
  };
  try {
    const hub = new NodeRuntime({ logger });
    stops.push(() => hub.stop());
    const tcp = await TcpTransport.create(hub);
    const ws = await WebSocketTransport.create(hub);
    await ForwardingService.start(hub.context('hub'), 'forwarding_service');
    const hubTcp = await tcp.listen('127.0.0.1:0');
    const hubWs = await ws.listen('127.0.0.1:0/sealroute');

    const bobNode = new NodeRuntime({ logger });
    stops.push(() => bobNode.stop());
    await TcpTransport.create(bobNode);
    const ctx: Context = bobNode.context('bob');
    const bob = await Identity.create(await InMemoryVault.create());
    await createSecureChannelListener(ctx, bob, 'listener', { trustPolicy: TrustAnyIdentity });
    const received: unknown[] = [];
    await bobNode.startWorker(
      'echoer',
      {
        handleMessage: (echo, message) => {
          received.push(message.body);
          return echo.send(message.returnRoute, message.body);
        },
      },
      { access: fromSecureChannel() },
    );
    const bobHub = options.bobHub === undefined ? hubTcp : await options.bobHub(hubTcp);
    const forwarder = await RemoteForwarder.create(ctx, route([TCP, bobHub]), 'listener', {
      heartbeatIntervalMs: 1_000,
      reconnectMaxMs: 1_000,
    });
    stops.push(() => forwarder.stop());
    const forwardingAddress = ForwardingAddress.of(forwarder, bob).format();

    const server = await serveStatic(files(options.bundleDir ?? DEFAULT_BUNDLE_DIR));
    stops.push(() => new Promise<void>((done) => server.close(() => done())));
    const { port } = server.address() as { port: number };
    const query = new URLSearchParams({ hub: hubWs, bob: forwardingAddress });
    const url = `http://127.0.0.1:${port}/?${query.toString()}`;
    return { url, hubWs, hubTcp, forwardingAddress, bob, received, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A static server of `served` only (nothing else on disk is reachable), on a free port of 127.0.0.1. */
async function serveStatic(served: Record<string, [string, string]>): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const file = Object.hasOwn(served, path) ? served[path] : undefined;
    if (file === undefined) {
      res.writeHead(404).end();
      return;
    }
    readFile(file[0]).then(
      (body) => res.writeHead(200, { 'Content-Type': file[1], 'Cache-Control': 'no-store' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return server;
}
