import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { TCP, WS, type AddressType } from '../../src/core/address';
import type { Context } from '../../src/node/context';
import { NodeRuntime, type NodeOptions } from '../../src/node/node-runtime';
import type { ConnectionOptions } from '../../src/transport/connection-options';
import type { StreamTransport } from '../../src/transport/stream-transport';
import { parseHostPort } from '../../src/transport/tcp/host-port';
import { TcpTransport } from '../../src/transport/tcp/tcp-transport';
import { WebSocketTransport } from '../../src/transport/ws/node-websocket-transport';
import { parseWebSocketTarget, webSocketUrl } from '../../src/transport/ws/websocket-address';
import { CapturingLogger } from './capturing-logger';
import type { Cleanup } from './tcp-fixtures';

/** A raw peer of a stream transport, speaking whatever bytes a test tells it to. */
export interface RawPeer {
  write(bytes: Uint8Array): void;
  /** Writes `bytes` (if any) and closes its side. */
  end(bytes?: Uint8Array): void;
  /** Stops reading what the node sends (the node's writes back up). */
  pause(): void;
  /** Resolves once the node closed it. */
  readonly closed: Promise<void>;
}

/** One kind of stream transport, as the compliance suite drives it. */
export interface StreamKind {
  readonly name: string;
  readonly type: AddressType;
  create(node: NodeRuntime, options?: ConnectionOptions): Promise<StreamTransport>;
  /** A raw client connected to a listener at `address` (the transport is at its stream level: TCP connected, WebSocket upgraded). */
  rawClient(cleanup: Cleanup, address: string): Promise<RawPeer>;
  /** Where a node listens unless told (default `127.0.0.1:0`, any free port). */
  listenAt?(transport: StreamTransport): string;
  /** Two addresses its transport refuses as invalid (default `no-port-here`, `host:99999`). */
  readonly invalid?: readonly [string, string];
}

/** A node with a stream transport, for tests. */
export interface StreamTestNode {
  readonly node: NodeRuntime;
  readonly transport: StreamTransport;
  readonly logger: CapturingLogger;
  /** The bound address, when it listens. */
  readonly address: string;
  /** A detached context that accepts messages from connections. */
  readonly ctx: Context;
}

/** Starts a node with a capturing logger and a transport of `kind`, listening unless `listen` is false. */
export async function startStreamNode(
  cleanup: Cleanup,
  kind: StreamKind,
  options: { node?: NodeOptions; transport?: ConnectionOptions; listen?: string | false } = {},
): Promise<StreamTestNode> {
  const logger = new CapturingLogger();
  const node = new NodeRuntime({ logger, ...options.node });
  cleanup.add(() => node.stop());
  const transport = await kind.create(node, options.transport);
  const at = options.listen === false ? undefined : (options.listen ?? kind.listenAt?.(transport));
  const address = options.listen === false ? '' : await transport.listen(at ?? '127.0.0.1:0');
  const ctx = node.context(undefined, { acceptsTransportMessages: true });
  return { node, transport, logger, address, ctx };
}

export const TCP_KIND: StreamKind = {
  name: 'TcpTransport',
  type: TCP,
  create: (node, options) => TcpTransport.create(node, options),
  async rawClient(cleanup, address) {
    const { host, port } = parseHostPort(address);
    const socket: Socket = connect({ host, port });
    socket.on('error', () => undefined);
    socket.resume();
    cleanup.add(() => socket.destroy());
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return {
      write: (bytes) => void socket.write(bytes),
      end: (bytes) => void (bytes === undefined ? socket.end() : socket.end(bytes)),
      pause: () => socket.pause(),
      closed,
    };
  },
};

export const WS_KIND: StreamKind = {
  name: 'WebSocketTransport',
  type: WS,
  create: (node, options) => WebSocketTransport.create(node, options),
  async rawClient(cleanup, address) {
    const socket = new WebSocket(webSocketUrl(parseWebSocketTarget(address), false));
    socket.on('error', () => undefined);
    cleanup.add(() => socket.terminate());
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    return {
      write: (bytes) => socket.send(bytes),
      end: (bytes) => {
        if (bytes !== undefined) socket.send(bytes);
        socket.close(1000);
      },
      pause: () => socket.pause(),
      closed,
    };
  },
};
