import { createHash } from 'node:crypto';
import net from 'node:net';
import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import type { SecureChannel } from '../../src/channel/secure-channel';
import { ForwardingService } from '../../src/services/forwarding-service';
import { createTcpInlet, type TcpInlet, type TcpInletOptions } from '../../src/services/portal/tcp-inlet';
import { createTcpOutlet, type TcpOutlet, type TcpOutletOptions } from '../../src/services/portal/tcp-outlet';
import { startAlice, startBob, type Alice, type Bob } from '../helpers/alice-and-bob';
import { within } from '../helpers/async';
import { HostileProxy } from '../helpers/hostile-proxy';
import { startTcpNode, type Cleanup, type TcpTestNode } from '../helpers/tcp-fixtures';

/** The portal story in one process: hub, Bob with an outlet to `target`, Alice with an inlet through a channel. */
export interface Portal {
  readonly hub: TcpTestNode;
  /** The capturing proxy in front of the hub, through which Alice and Bob both connect. */
  readonly proxy: HostileProxy;
  readonly bob: Bob;
  readonly alice: Alice;
  readonly channel: SecureChannel;
  readonly outlet: TcpOutlet;
  readonly inlet: TcpInlet;
}

/** Options of `startPortal`. */
export interface PortalOptions {
  readonly outlet?: Partial<TcpOutletOptions>;
  readonly inlet?: TcpInletOptions;
  /** The outlet's name (default 'service'). */
  readonly name?: string;
}

/** Starts the hub (behind a capturing proxy), Bob's outlet to `target` admitting Alice only, Alice's inlet. */
export async function startPortal(
  cleanup: Cleanup,
  target: string,
  options: PortalOptions = {},
): Promise<Portal> {
  const hub = await startTcpNode(cleanup);
  await ForwardingService.start(hub.ctx, 'forwarding_service');
  const proxy = await HostileProxy.start(hub.address);
  cleanup.add(() => proxy.close());
  const bob = await startBob(cleanup, proxy.address);
  const alice = await startAlice(cleanup);
  const name = options.name ?? 'service';
  const outlet = await createTcpOutlet(bob.ctx, name, target, {
    access: [alice.identity.identifier],
    ...options.outlet,
  });
  cleanup.add(() => outlet.close());
  const channel = await alice.open(
    route([TCP, proxy.address], bob.forwarder.forwardingAddress),
    bob.identity,
  );
  const inlet = await createTcpInlet(alice.ctx, '127.0.0.1:0', route(channel, name), options.inlet);
  cleanup.add(() => inlet.close());
  return { hub, proxy, bob, alice, channel, outlet, inlet };
}

/** Every byte the proxy relayed, both directions, frames concatenated. */
export function capturedBytes(proxy: HostileProxy): Buffer {
  return Buffer.concat(proxy.frames.map((frame) => frame.bytes));
}

/** A TCP server on a free port of 127.0.0.1 that echoes, closed by `cleanup`. */
export async function startEchoServer(cleanup: Cleanup): Promise<{ server: net.Server; address: string }> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  return listen(cleanup, server);
}

export async function listen(
  cleanup: Cleanup,
  server: net.Server,
): Promise<{ server: net.Server; address: string }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.add(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as net.Server & { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  );
  return { server, address: `127.0.0.1:${(server.address() as net.AddressInfo).port}` };
}

/** A free port on 127.0.0.1 (bound then released) for programs that take a port number. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Connects to `address`; the socket is destroyed by `cleanup`. */
export async function connectTo(
  cleanup: Cleanup,
  address: string,
  allowHalfOpen = false,
): Promise<net.Socket> {
  const colon = address.lastIndexOf(':');
  const socket = net.connect({
    host: address.slice(0, colon),
    port: Number(address.slice(colon + 1)),
    allowHalfOpen,
  });
  cleanup.add(() => socket.destroy());
  await within(
    new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }),
    5_000,
    `a connection to ${address}`,
  );
  return socket;
}

/** Everything `socket` reads until it ends, and how it ended (an error such as ECONNRESET, or a clean end). */
export function readAll(
  socket: net.Socket,
  timeoutMs = 10_000,
): Promise<{ bytes: Buffer; error?: NodeJS.ErrnoException }> {
  const chunks: Buffer[] = [];
  const done = new Promise<{ bytes: Buffer; error?: NodeJS.ErrnoException }>((resolve) => {
    let error: NodeJS.ErrnoException | undefined;
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (e) => (error = e));
    socket.on('close', () => resolve({ bytes: Buffer.concat(chunks), error }));
  });
  return within(done, timeoutMs, 'the socket to close');
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A server that hashes everything it receives and, once the client half-closes, answers with the SHA-256 hex. */
export async function startHashServer(cleanup: Cleanup): Promise<{ address: string }> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    const hash = createHash('sha256');
    socket.on('data', (chunk: Buffer) => hash.update(chunk));
    socket.on('end', () => socket.end(hash.digest('hex')));
  });
  return listen(cleanup, server);
}

/** Deterministic bytes: block `i` of a stream (so both ends can hash the same stream without holding it). */
export function block(i: number, size = 64 * 1024): Buffer {
  const bytes = Buffer.alloc(size);
  for (let j = 0; j < size; j += 4) bytes.writeUInt32BE((i * 2654435761 + j * 40503) >>> 0, j);
  return bytes;
}

/**
 * A server that writes `blocks` blocks of 64 KiB to each client as fast as the client reads them (it waits
 * for `drain`), then ends; `written` counts what it handed to its sockets so far, all clients together.
 */
export async function startSourceServer(
  cleanup: Cleanup,
  blocks: number,
): Promise<{ address: string; written: () => number; hash: string }> {
  let written = 0;
  const hash = createHash('sha256');
  for (let i = 0; i < blocks; i++) hash.update(block(i));
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    let i = 0;
    const pump = (): void => {
      while (i < blocks) {
        const chunk = block(i++);
        written += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
      socket.end();
    };
    pump();
  });
  const { address } = await listen(cleanup, server);
  return { address, written: () => written, hash: hash.digest('hex') };
}
