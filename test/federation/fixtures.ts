import { createServer, connect as netConnect, type Socket } from 'node:net';
import { TCP } from '../../src/core/address';
import { route, type Route } from '../../src/core/route';
import { createSecureChannelListener } from '../../src/channel/create-secure-channel-listener';
import { Identity, TrustAnyIdentity } from '../../src/identity';
import { InMemoryVault } from '../../src/vault';
import { FailoverForwarder, type FailoverForwarderOptions } from '../../src/federation/failover-forwarder';
import { startFederatedHub, type FederatedHub } from '../../src/federation/federated-hub';
import type { FederationOptions } from '../../src/federation/federation';
import { EnvelopeKind } from '../../src/federation/envelope';
import type { FederationBus } from '../../src/federation/nats-bus';
import { FAST_FORWARDER, startTcpNode, type Cleanup, type TcpTestNode } from '../helpers/tcp-fixtures';
import { startRecordingEchoer, type Received } from '../helpers/alice-and-bob';
import { waitFor } from '../helpers/async';
import { scaled } from '../helpers/slowdown';

/** Leases short enough that a dead hub is noticed within a test's patience, long enough for a busy machine. */
export const FAST_LEASE = { heartbeatMs: 100, leaseMs: scaled(1_000) } as const;

/** A hub of a federation, in process: a node with TCP and a federated forwarding service. */
export interface TestHub extends TcpTestNode {
  readonly name: string;
  readonly hub: FederatedHub;
}

/** Starts hub `name` listening on a free port, in the federation on NATS at `servers`. */
export async function startHub(
  cleanup: Cleanup,
  servers: readonly string[],
  name: string,
  federation: Omit<FederationOptions, 'nats' | 'hub'> & {
    client?: Record<string, unknown>;
    bus?: FederationBus;
  } = {},
): Promise<TestHub> {
  const node = await startTcpNode(cleanup);
  const { client, bus, ...rest } = federation;
  const hub = await startFederatedHub(node.ctx, {
    nats: bus ?? { servers, client },
    hub: name,
    federation: { ...FAST_LEASE, ...rest },
  });
  cleanup.add(() => hub.stop());
  return { ...node, name, hub };
}

/** Bob behind a federation: a secure channel listener, an echoer, and his name registered with failover. */
export interface FederatedBob extends TcpTestNode {
  readonly identity: Identity;
  readonly forwarder: FailoverForwarder;
  readonly received: Received[];
}

/** Starts Bob with `name` bound to his identity at the first of `hubs` (`host:port`) that takes it. */
export async function startFederatedBob(
  cleanup: Cleanup,
  hubs: readonly string[],
  name: string,
  options: Partial<FailoverForwarderOptions> = {},
): Promise<FederatedBob> {
  const bob = await startTcpNode(cleanup, { listen: false });
  const identity = await Identity.create(await InMemoryVault.create());
  await createSecureChannelListener(bob.ctx, identity, 'listener', { trustPolicy: TrustAnyIdentity });
  const received = await startRecordingEchoer(bob.node);
  const forwarder = await FailoverForwarder.create(bob.ctx, hubs, 'listener', {
    ...FAST_FORWARDER,
    shuffle: false,
    backoffInitialMs: 50,
    backoffMaxMs: 500,
    ...options,
    name,
    identity,
  });
  cleanup.add(() => forwarder.stop());
  return { ...bob, identity, forwarder, received };
}

/** The route to `name` through the hub at `hub` (`host:port`). */
export function through(hub: string, name: string, ...more: string[]): Route {
  return route([TCP, hub], `fwd.n.${name}`, ...more);
}

/** Waits until `hub` routes `name` to the hub named `at` and holds a live lease of it. */
export async function waitForRoute(hub: TestHub, name: string, at: string, timeoutMs = 5_000): Promise<void> {
  await waitFor(
    () =>
      hub.hub.federation.whereIs(name) === at && (at === hub.name || hub.hub.federation.stats().peers > 0),
    timeoutMs,
  );
}

/**
 * A TCP proxy in front of a NATS server that keeps a copy of every byte both ways: what NATS (and anyone
 * who can watch it) gets to see of a hub's traffic.
 */
export async function captureProxy(
  cleanup: Cleanup,
  natsUrl: string,
): Promise<{ url: string; bytes(): Buffer }> {
  const target = new URL(natsUrl);
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = netConnect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (d) => chunks.push(Buffer.from(d)));
    upstream.on('data', (d) => chunks.push(Buffer.from(d)));
    client.pipe(upstream).on('error', () => client.destroy());
    upstream.pipe(client).on('error', () => upstream.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.add(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as { port: number };
  return { url: `nats://127.0.0.1:${port}`, bytes: () => Buffer.concat(chunks) };
}

/**
 * A real bus with faults put in: DATA envelopes that `drop` picks are not published (as if NATS lost them),
 * and while `holdFlushes` is set no flush completes (as if the server stopped confirming).
 */
export class FaultyBus implements FederationBus {
  drop: (index: number) => boolean = () => false;
  holdFlushes = false;
  /** Flushes asked for so far. */
  flushes = 0;
  /** DATA envelopes published (or dropped) so far, and how many were dropped. */
  dataFrames = 0;
  dropped = 0;
  /** PART and LAST envelopes published (or dropped) so far: their kind and size (header and piece). */
  pieces: { kind: number; size: number }[] = [];
  dropPiece: (index: number) => boolean = () => false;

  constructor(private readonly inner: FederationBus) {}

  get maxPayload(): number {
    return this.inner.maxPayload;
  }

  publish(subject: string, data: Uint8Array, body?: Uint8Array): void {
    if (data[1] === EnvelopeKind.DATA) {
      if (this.drop(this.dataFrames++)) {
        this.dropped++;
        return;
      }
    }
    if (data[1] === EnvelopeKind.PART || data[1] === EnvelopeKind.LAST) {
      this.pieces.push({ kind: data[1], size: data.length + (body?.length ?? 0) });
      if (this.dropPiece(this.pieces.length - 1)) return;
    }
    this.inner.publish(subject, data, body);
  }

  subscribe(subject: string, onMessage: (data: Uint8Array) => void): ReturnType<FederationBus['subscribe']> {
    return this.inner.subscribe(subject, onMessage);
  }

  flush(): Promise<void> {
    this.flushes++;
    return this.holdFlushes ? new Promise(() => undefined) : this.inner.flush();
  }

  names(...args: Parameters<FederationBus['names']>): ReturnType<FederationBus['names']> {
    return this.inner.names(...args);
  }

  onEvent(listener: Parameters<FederationBus['onEvent']>[0]): void {
    this.inner.onEvent(listener);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
