import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { scaled } from '../helpers/slowdown';
import { TCP } from '../../src/core/address';
import { route, type Route } from '../../src/core/route';
import { fromSecureChannel } from '../../src/channel/access';
import { createSecureChannel } from '../../src/channel/create-secure-channel';
import type { SecureChannel } from '../../src/channel/secure-channel';
import {
  createSecureChannelListener,
  type SecureChannelListener,
  type SecureChannelListenerOptions,
} from '../../src/channel';
import { Identity, TrustEveryone } from '../../src/identity';
import { NodeRuntime } from '../../src/node/node-runtime';
import type { Context } from '../../src/node/context';
import { silentLogger, type Logger } from '../../src/node/logger';
import { ForwardingService, type ForwardingServiceOptions } from '../../src/services/forwarding-service';
import { RemoteForwarder, type RemoteForwarderOptions } from '../../src/services/remote-forwarder';
import { parseHostPort } from '../../src/transport/tcp/host-port';
import { TcpTransport } from '../../src/transport/tcp/tcp-transport';
import type { TcpTransportOptions } from '../../src/transport/tcp/tcp-options';
import { InMemoryVault } from '../../src/vault';
import { Sink } from '../../reliability/lib/numbered';
import type { Cleanup } from '../helpers/tcp-fixtures';

/**
 * The nodes of the reliability samples, in process and over real TCP on 127.0.0.1: a hub with a
 * forwarding service, Bob behind it (listener, echoer, numbered-message sink) and Alice. Silent loggers
 * by default: a logger that keeps entries would itself grow the heap being measured.
 */

/** A node with a TCP transport. */
export interface TcpNode {
  readonly node: NodeRuntime;
  readonly tcp: TcpTransport;
  /** A detached context that accepts replies from connections. */
  readonly ctx: Context;
}

async function tcpNode(
  cleanup: Cleanup,
  logger: Logger,
  tcpOptions: TcpTransportOptions = {},
): Promise<TcpNode> {
  const node = new NodeRuntime({ logger });
  cleanup.add(() => node.stop());
  const tcp = await TcpTransport.create(node, tcpOptions);
  return { node, tcp, ctx: node.context(undefined, { acceptsTransportMessages: true }) };
}

/** A hub: a listening node with a forwarding service. */
export interface Hub extends TcpNode {
  readonly address: string;
  readonly service: ForwardingService;
}

export async function startHub(
  cleanup: Cleanup,
  options: { listen?: string; forwarding?: ForwardingServiceOptions; logger?: Logger } = {},
): Promise<Hub> {
  const hub = await tcpNode(cleanup, options.logger ?? silentLogger);
  const service = await ForwardingService.create(hub.ctx, 'forwarding_service', options.forwarding);
  const address = await hub.tcp.listen(options.listen ?? '127.0.0.1:0');
  return { ...hub, address, service };
}

/** Bob: a node behind the hub with a channel listener, an echoer and a sink for secure channels only. */
export interface Bob extends TcpNode {
  readonly listener: SecureChannelListener;
  readonly forwarder: RemoteForwarder;
  readonly sink: Sink;
}

export async function startBob(
  cleanup: Cleanup,
  hubAddress: string,
  options: {
    listener?: Partial<SecureChannelListenerOptions>;
    forwarder?: RemoteForwarderOptions;
    logger?: Logger;
  } = {},
): Promise<Bob> {
  const bob = await tcpNode(cleanup, options.logger ?? silentLogger);
  const identity = await Identity.create(await InMemoryVault.create());
  const listener = await createSecureChannelListener(bob.ctx, identity, 'listener', {
    trustPolicy: TrustEveryone,
    ...options.listener,
  });
  const access = fromSecureChannel();
  await bob.node.startWorker(
    'echoer',
    { handleMessage: (ctx, msg) => ctx.send(msg.returnRoute, msg.body) },
    { access },
  );
  const sink = await Sink.start(bob.node, 'sink', access);
  const forwarder = await RemoteForwarder.create(
    bob.ctx,
    route([TCP, hubAddress]),
    'listener',
    options.forwarder,
  );
  cleanup.add(() => forwarder.stop());
  return { ...bob, listener, forwarder, sink };
}

/** Alice: a node that opens channels to the listener behind a route. */
export interface Alice extends TcpNode {
  open(to: Route, timeoutMs?: number): Promise<SecureChannel>;
}

export async function startAlice(cleanup: Cleanup, tcpOptions: TcpTransportOptions = {}): Promise<Alice> {
  const alice = await tcpNode(cleanup, silentLogger, tcpOptions);
  const identity = await Identity.create(await InMemoryVault.create());
  return {
    ...alice,
    open: (to, timeoutMs = scaled(5_000)) =>
      createSecureChannel(alice.ctx, identity, to, { trustPolicy: TrustEveryone, timeout: timeoutMs }),
  };
}

/** Bob's listener through the hub: `[TCP, hub] => Bob's forwarder`. */
export function toBob(hub: string, bob: Bob): Route {
  return route([TCP, hub], bob.forwarder.forwardingAddress);
}

/** Runs `task` n times, `concurrency` at a time. */
export async function inPool(
  n: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, lane));
}

/**
 * A TCP proxy in front of a hub, whose `cut()` destroys every socket at once, as a crashed hub's kernel
 * would: clients see their connections fail, and bytes in flight are gone. New connections go to the
 * current target (`retarget`), so a "restarted" hub can take over the address clients know.
 */
export class CutProxy {
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  private constructor(private target: string) {
    this.server = createServer((client) => {
      const { host, port } = parseHostPort(this.target);
      const upstream = connect({ host, port });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => socket.destroy());
        socket.on('close', () => this.sockets.delete(socket));
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  static async start(target: string): Promise<CutProxy> {
    const proxy = new CutProxy(target);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get address(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  retarget(target: string): void {
    this.target = target;
  }

  /** Destroys every connection through the proxy, both sides, at once. */
  cut(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
