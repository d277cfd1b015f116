import { connect, type Socket } from 'node:net';
import { NodeRuntime, type NodeOptions } from '../../src/node/node-runtime';
import { parseHostPort } from '../../src/transport/tcp/host-port';
import type { RemoteForwarderOptions } from '../../src/services/remote-forwarder';
import type { Context } from '../../src/node/context';
import type { Routed } from '../../src/core/message';
import { TcpTransport } from '../../src/transport/tcp/tcp-transport';
import type { TcpTransportOptions } from '../../src/transport/tcp/tcp-options';
import { CapturingLogger } from './capturing-logger';

/** A node with a TCP transport, for tests. */
export interface TcpTestNode {
  readonly node: NodeRuntime;
  readonly tcp: TcpTransport;
  readonly logger: CapturingLogger;
  /** The bound `host:port`, when it listens. */
  readonly address: string;
  /** A detached context that accepts messages from connections (for replies that come back over TCP). */
  readonly ctx: Context;
}

/** Options of `startTcpNode`. */
export interface TcpTestNodeOptions {
  readonly node?: NodeOptions;
  readonly tcp?: TcpTransportOptions;
  /** Where to listen (default `127.0.0.1:0`), or false for a node that only connects out. */
  readonly listen?: string | false;
}

/**
 * Stops everything a test started, newest first, even when the test failed halfway. Register each thing as
 * it starts; `run()` in `afterEach`.
 */
export class Cleanup {
  private readonly steps: (() => Promise<unknown> | unknown)[] = [];

  add(step: () => Promise<unknown> | unknown): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step();
      } catch {
        // keep cleaning up
      }
    }
  }
}

/** Starts a node with a capturing logger and a TCP transport, listening on a free port unless told not to. */
export async function startTcpNode(cleanup: Cleanup, options: TcpTestNodeOptions = {}): Promise<TcpTestNode> {
  const logger = new CapturingLogger();
  const node = new NodeRuntime({ logger, ...options.node });
  cleanup.add(() => node.stop());
  const tcp = await TcpTransport.create(node, options.tcp);
  const address = options.listen === false ? '' : await tcp.listen(options.listen ?? '127.0.0.1:0');
  const ctx = node.context(undefined, { acceptsTransportMessages: true });
  return { node, tcp, logger, address, ctx };
}

/** Starts an echoer: it replies to every message with the same body, along the return route. */
export async function startEchoer(
  node: NodeRuntime,
  address = 'echoer',
  acceptsTransportMessages = true,
): Promise<Routed<unknown>[]> {
  const seen: Routed<unknown>[] = [];
  await node.startWorker(
    address,
    {
      handleMessage: (ctx, message) => {
        seen.push(message);
        return ctx.send(message.returnRoute, message.body);
      },
    },
    { acceptsTransportMessages },
  );
  return seen;
}

/** Kinds of handles that keep a process alive: sockets, servers. */
export function openSocketHandles(): number {
  return process
    .getActiveResourcesInfo()
    .filter((kind) => kind === 'TCPSocketWrap' || kind === 'TCPServerWrap' || kind === 'TCPWrap').length;
}

/**
 * A raw TCP client that speaks whatever the test tells it to, destroyed by `cleanup`. `localAddress` (any
 * 127.x.y.z is this machine on Linux) lets one test be several remote hosts.
 */
export async function rawTcpClient(
  cleanup: Cleanup,
  address: string,
  localAddress?: string,
): Promise<Socket> {
  const { host, port } = parseHostPort(address);
  const socket = connect({ host, port, localAddress });
  socket.on('error', () => undefined);
  socket.resume(); // read (and ignore) what the hub sends, so that its close is noticed
  cleanup.add(() => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** A remote forwarder's heartbeats and retries made fast, so that losses are noticed within a test's patience. */
export const FAST_FORWARDER: RemoteForwarderOptions = {
  heartbeatIntervalMs: 100,
  heartbeatTimeoutMs: 1_000,
  registrationTimeoutMs: 2_000,
  reconnectInitialMs: 50,
  reconnectMaxMs: 200,
};
