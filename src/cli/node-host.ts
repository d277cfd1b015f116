/**
 * A declarative node: what `sealroute node start` and `sealroute hub start` run. It assembles a node from a
 * checked configuration with the library's public API only (the same calls as examples/hub.ts and
 * examples/bob.ts), answers its control socket, serves metrics if asked, and reloads what is safe on SIGHUP.
 */
import type { Server } from 'node:net';
import { basename } from 'node:path';
import {
  ForwardingService,
  ForwardingAddress,
  RemoteForwarder,
  SecureChannel,
  SecureChannelListener,
  TCP,
  TcpTransport,
  TrustAnyIdentity,
  TrustEveryone,
  TrustIdentifier,
  allowAll,
  createNode,
  createSecureChannel,
  createSecureChannelListener,
  createTcpInlet,
  createTcpOutlet,
  type TcpInlet,
  type TcpOutlet,
  fromSecureChannel,
  nodeMetrics,
  route,
  type AccessRule,
  type Context,
  type DropReason,
  type Identity,
  type MetricsSnapshot,
  type NodeRuntime,
  type RoutePart,
  type TrustPolicy,
  type Worker,
  DROP_REASONS,
} from '../index';
import { type NodeConfig } from './config';
import { serveControl, type ControlRequest } from './control-socket';
import { loadIdentity } from './identities';
import { CliError } from './output';
import { socketPath } from './paths';
import { parseRouteText } from './route-text';
import { countTcpBytes } from './socket-bytes';

/** What `status` reports (and `status --json` prints). */
export interface NodeStatus {
  readonly name: string;
  readonly identifier: string;
  readonly pid: number;
  readonly uptimeSeconds: number;
  readonly ready: boolean;
  readonly tcpListeners: readonly string[];
  readonly connections: readonly { address: string; remote: string; outgoing: boolean }[];
  readonly listeners: readonly { address: string; trust: string; channels: number }[];
  readonly channels: readonly {
    address: string;
    remoteIdentifier: string | null;
    role: 'initiator' | 'responder';
    since: string;
  }[];
  readonly forwarders: {
    readonly hosted: readonly { address: string; name: string | null; owner: string | null }[];
    readonly relays: readonly {
      hub: string;
      forwardingAddress: string | null;
      to: string;
      registered: boolean;
    }[];
  };
  readonly portals: readonly {
    side: 'inlet' | 'outlet';
    /** The outlet's address, or the inlet's bound `host:port`. */
    address: string;
    /** The outlet's target `host:port`, or the inlet's route. */
    to: string;
    sessionsActive: number;
    sessionsOpened: number;
    bytesSent: number;
    bytesReceived: number;
  }[];
  readonly deadLetters: { readonly total: number; readonly byReason: Readonly<Record<DropReason, number>> };
  readonly metrics: MetricsSnapshot;
}

/** The trust policy a configuration entry names. */
function trustPolicy(trust: 'any-identity' | 'everyone' | readonly string[]): TrustPolicy {
  if (trust === 'any-identity') return TrustAnyIdentity;
  if (trust === 'everyone') return TrustEveryone;
  return TrustIdentifier(...trust);
}

function accessRule(access: NodeConfig['workers'][number]['access']): AccessRule {
  if (access === 'all') return allowAll;
  if (access === 'secure-channel') return fromSecureChannel();
  return fromSecureChannel(access.identifiers);
}

/** The built-in echoer: replies with what it receives. */
const echoer = (): Worker<unknown> => ({
  async handleMessage(ctx, message) {
    await ctx.send(message.returnRoute, message.body);
  },
});

interface Relay {
  readonly hub: string;
  readonly to: string;
  forwarder: RemoteForwarder | undefined;
  registered: boolean;
}

/** Loads a worker from a module: a class (decorated or not) or an object with `handleMessage`. */
function loadWorkerExport(module: string, exportName: string | undefined): unknown {
  let loaded: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(module) as Record<string, unknown>;
  } catch (cause) {
    throw new CliError('CONFIG', `cannot load the worker module ${module}`, { cause });
  }
  if (exportName !== undefined) {
    if (!(exportName in loaded)) throw new CliError('CONFIG', `${module} has no export "${exportName}"`);
    return loaded[exportName];
  }
  if (typeof loaded === 'function' || 'handleMessage' in loaded) return loaded;
  if ('default' in loaded) return loaded.default;
  const names = Object.keys(loaded);
  if (names.length === 1) return loaded[names[0]!];
  throw new CliError('CONFIG', `${module} exports ${names.join(', ')}: name one with "export"`);
}

/** A running declarative node. */
export class NodeHost {
  private readonly started = Date.now();
  private readonly listeners = new Map<
    string,
    { listener: SecureChannelListener; policy: { current: TrustPolicy; text: string } }
  >();
  private readonly channels = new Set<SecureChannel>();
  private readonly channelSince = new WeakMap<SecureChannel, number>();
  private readonly relays: Relay[] = [];
  private readonly portals: { end: TcpOutlet | TcpInlet; address: string; to: string }[] = [];
  private service: ForwardingService | undefined;
  private control: Server | undefined;
  private metricsServer: import('node:http').Server | undefined;
  private isReady = false;
  /** The metrics endpoint's port: its sockets are not the node's traffic. */
  private metricsPort = -1;
  readonly tcpListeners: string[] = [];

  private constructor(
    readonly name: string,
    readonly node: NodeRuntime,
    readonly ctx: Context,
    readonly identity: Identity,
    readonly tcp: TcpTransport,
    private config: NodeConfig,
  ) {}

  /** The control socket's path. */
  get socket(): string {
    return this.config.control?.socket ?? socketPath(this.name);
  }

  /** Starts everything the configuration declares; `say` prints progress for people. */
  static async start(config: NodeConfig, say: (line: string) => void): Promise<NodeHost> {
    const identityName = config.identity ?? (await import('./identities')).defaultIdentity();
    const name = config.name ?? identityName;
    const { identity, vault } = await loadIdentity(
      identityName,
      { passphraseFile: config.vault?.passphraseFile },
      true,
    );
    const { node } = createNode();
    const ctx = node.context('cli');
    const tcp = await TcpTransport.create(ctx);
    const host = new NodeHost(name, node, ctx, identity, tcp, config);
    node.once('stopped', () => void vault.close().catch(() => undefined));
    try {
      await host.assemble(say);
    } catch (error) {
      await host.stop();
      throw error;
    }
    return host;
  }

  private async assemble(say: (line: string) => void): Promise<void> {
    const { config, ctx, node } = this;
    const metrics = nodeMetrics(node);
    const bytes = countTcpBytes((socket) => socket.localPort === this.metricsPort);
    node.once('stopped', bytes.stop);
    metrics.trackTransport('tcp', this.tcp, bytes.read);
    say(`Node ${this.name} runs as ${this.identity.identifier}`);
    if (config.hub !== undefined) {
      this.service = await ForwardingService.start(ctx, 'forwarding_service', {
        statePath: config.hub.statePath,
      });
      metrics.trackForwardingService(this.service);
    }
    for (const listen of config.tcp?.listen ?? []) {
      const bound = await this.tcp.listen(listen);
      this.tcpListeners.push(bound);
      say(`Listening on TCP ${bound}`);
    }
    for (const entry of config.secureChannelListeners) {
      const policy = { current: trustPolicy(entry.trust), text: JSON.stringify(entry.trust) };
      // The listener asks `policy.current` on each handshake, so a reload changes whom it accepts next.
      const live: TrustPolicy = {
        name: `config(${entry.address})`,
        check: (peer) => policy.current.check(peer),
      };
      const listener = await createSecureChannelListener(ctx, this.identity, entry.address, {
        trustPolicy: live,
      });
      metrics.trackListener(listener);
      listener.on('channelOpened', (channel) => this.remember(channel));
      this.listeners.set(entry.address, { listener, policy });
      say(`Secure channel listener at ${entry.address} (trust: ${entry.trust.toString()})`);
    }
    for (const worker of config.workers) {
      const access = accessRule(worker.access);
      if (worker.builtin === 'echoer') {
        await node.startWorker(worker.address, echoer(), { access });
      } else {
        const exported = loadWorkerExport(worker.module!, worker.export);
        if (typeof exported === 'function') {
          const decorated = hasWorkerMetadata(exported);
          if (decorated) {
            await node.startWorker(exported as never, { address: worker.address, access });
          } else {
            const instance = new (exported as new () => Worker<unknown>)();
            await node.startWorker(worker.address, instance, { access });
          }
        } else if (typeof exported === 'object' && exported !== null && 'handleMessage' in exported) {
          await node.startWorker(worker.address, exported as Worker<unknown>, { access });
        } else {
          throw new CliError(
            'CONFIG',
            `${worker.module}: the export is neither a worker class nor a worker object`,
          );
        }
      }
      say(`Worker at ${worker.address}`);
    }
    for (const outlet of config.tcpOutlets) {
      await this.createOutlet(outlet.address, outlet.target, outlet.access);
      say(`TCP outlet at ${outlet.address} -> ${outlet.target}`);
    }
    this.control = await serveControl(this.socket, (request) => this.handle(request));
    say(`Control socket ${this.socket}`);
    if (config.metrics !== undefined) {
      const { serveMetrics } = await import('./metrics-server');
      const [hostText, portText] = splitHostPort(config.metrics.listen);
      this.metricsServer = await serveMetrics(
        {
          metrics,
          snapshot: () => node.metrics(),
          healthy: () => !node.isStopped,
          ready: () => this.readiness(),
        },
        hostText,
        Number(portText),
      );
      const address = this.metricsServer.address();
      const port = typeof address === 'object' && address !== null ? address.port : Number(portText);
      this.metricsPort = port;
      say(`Metrics on http://${hostText.includes(':') ? `[${hostText}]` : hostText}:${port}/metrics`);
    }
    for (const relay of config.relays) {
      const address = await this.createRelay(relay.hub, relay.name, relay.to);
      say(`Forwarding address: ${address}`);
    }
    for (const inlet of config.tcpInlets) {
      const bound = await this.createInlet(inlet.listen, inlet.to);
      say(`TCP inlet on ${bound} -> ${inlet.to}`);
    }
    this.isReady = true;
  }

  private readiness(): { ready: boolean; reason?: string } {
    if (!this.isReady) return { ready: false, reason: 'starting' };
    const lost = this.relays.filter((relay) => !relay.registered);
    if (lost.length > 0) return { ready: false, reason: `relay to ${lost[0]!.hub} is not registered` };
    return { ready: true };
  }

  private remember(channel: SecureChannel): void {
    this.channels.add(channel);
    this.channelSince.set(channel, Date.now());
    void channel.closed().then(() => this.channels.delete(channel));
  }

  /** Registers a relay at `hub` delivering to `to`; resolves with the forwarding address. */
  async createRelay(hub: string, name: string | undefined, to = 'listener'): Promise<string> {
    const relay: Relay = { hub, to, forwarder: undefined, registered: false };
    const forwarder = await RemoteForwarder.create(this.ctx, route([TCP, hub]), to, {
      ...(name !== undefined ? { name, identity: this.identity } : {}),
    });
    relay.forwarder = forwarder;
    relay.registered = true;
    nodeMetrics(this.node).trackRemoteForwarder(forwarder);
    forwarder.on('registered', () => (relay.registered = true));
    forwarder.on('lost', () => (relay.registered = false));
    forwarder.on('failed', () => (relay.registered = false));
    this.relays.push(relay);
    return ForwardingAddress.of(forwarder, this.identity).format();
  }

  /** Starts a TCP outlet at `address` toward `target` for the channel peers `access` admits. */
  async createOutlet(
    address: string,
    target: string,
    access: 'any-identity' | readonly string[],
  ): Promise<string> {
    const outlet = await createTcpOutlet(this.ctx, address, target, {
      access: access === 'any-identity' ? TrustAnyIdentity : access,
    });
    nodeMetrics(this.node).trackPortal(`outlet ${address}`, outlet);
    this.portals.push({ end: outlet, address, to: target });
    return address;
  }

  /**
   * Opens the secure channel of `to` and listens at `listen` for TCP clients to carry to the outlet at its
   * end; resolves with the bound `host:port`. (A channel that closes later is not reopened: restart.)
   */
  async createInlet(listen: string, to: string): Promise<string> {
    const opened = await openRoute(this.ctx, this.node, this.identity, to);
    if (opened.last === undefined)
      throw new CliError('USAGE', `${to}: an inlet needs a route through a secure channel`);
    this.remember(opened.last);
    const inlet = await createTcpInlet(this.ctx, listen, opened.route);
    nodeMetrics(this.node).trackPortal(`inlet ${inlet.address}`, inlet);
    this.portals.push({ end: inlet, address: inlet.address, to });
    return inlet.address;
  }

  /** Opens a secure channel along a typed route; resolves with its address and peer. */
  async createChannel(
    to: string,
  ): Promise<{ address: string; remoteIdentifier: string | null; handshakeMs: number }> {
    const started = performance.now();
    const channel = await openRoute(this.ctx, this.node, this.identity, to);
    if (!(channel.last instanceof SecureChannel)) {
      throw new CliError('USAGE', 'the route has no /secure or /relay segment: no channel to create');
    }
    this.remember(channel.last);
    return {
      address: channel.last.address.toString(),
      remoteIdentifier: channel.last.remoteIdentifier ?? null,
      handshakeMs: Math.round(performance.now() - started),
    };
  }

  private async handle(request: ControlRequest): Promise<unknown> {
    switch (request.op) {
      case 'status':
        return this.status();
      case 'relay.create':
        return { forwardingAddress: await this.createRelay(request.hub, request.name, request.to) };
      case 'secure-channel.create':
        return this.createChannel(request.to);
      case 'tcp-outlet.create':
        return { address: await this.createOutlet(request.address, request.target, request.access) };
      case 'tcp-inlet.create':
        return { address: await this.createInlet(request.listen, request.to) };
      default:
        throw new CliError('USAGE', `unknown op ${(request as { op: string }).op}`);
    }
  }

  /** What the node is doing now. */
  status(): NodeStatus {
    const metrics = this.node.metrics();
    return {
      name: this.name,
      identifier: this.identity.identifier,
      pid: process.pid,
      uptimeSeconds: Math.round((Date.now() - this.started) / 1000),
      ready: this.readiness().ready,
      tcpListeners: this.tcpListeners,
      connections: this.tcp
        .connections()
        .map((c) => ({ address: c.address.toString(), remote: c.remote, outgoing: c.outgoing })),
      listeners: [...this.listeners].map(([address, { listener, policy }]) => ({
        address,
        trust: policy.text,
        channels: listener.channels.size,
      })),
      channels: [...this.channels].map((channel) => ({
        address: channel.address.toString(),
        remoteIdentifier: channel.remoteIdentifier ?? null,
        role: channel.isInitiator ? 'initiator' : 'responder',
        since: new Date(this.channelSince.get(channel) ?? Date.now()).toISOString(),
      })),
      forwarders: {
        hosted: (this.service?.forwarders() ?? []).map((f) => ({
          address: f.address.toString(),
          name: f.name ?? null,
          owner: f.owner ?? null,
        })),
        relays: this.relays.map((relay) => ({
          hub: relay.hub,
          forwardingAddress:
            relay.forwarder === undefined
              ? null
              : ForwardingAddress.of(relay.forwarder, this.identity).format(),
          to: relay.to,
          registered: relay.registered,
        })),
      },
      portals: this.portals.map(({ end, address, to }) => ({
        side: end.side,
        address,
        to,
        sessionsActive: end.stats.sessionsActive,
        sessionsOpened: end.stats.sessionsOpened,
        bytesSent: end.stats.bytesSent,
        bytesReceived: end.stats.bytesReceived,
      })),
      deadLetters: {
        total: this.node.deadLetters.count,
        byReason: Object.fromEntries(
          DROP_REASONS.map((r) => [r, this.node.deadLetters.countOf(r)]),
        ) as Record<DropReason, number>,
      },
      metrics,
    };
  }

  /**
   * Applies a new configuration where that is safe: the trust of existing listeners changes at once (the
   * next handshake is judged by it; open channels stay). Anything else that changed is reported as needing a
   * restart and left as it was. Returns one line per change.
   */
  reload(next: NodeConfig): string[] {
    const lines: string[] = [];
    const nextListeners = new Map(next.secureChannelListeners.map((entry) => [entry.address, entry]));
    for (const [address, { policy }] of this.listeners) {
      const entry = nextListeners.get(address);
      if (entry === undefined) continue;
      const text = JSON.stringify(entry.trust);
      if (text !== policy.text) {
        policy.current = trustPolicy(entry.trust);
        policy.text = text;
        lines.push(`listener ${address}: trust is now ${entry.trust.toString()}`);
      }
    }
    const unsafe = (
      ['identity', 'name', 'vault', 'tcp', 'hub', 'relays', 'workers', 'control', 'metrics'] as const
    ).filter((key) => JSON.stringify(this.config[key]) !== JSON.stringify(next[key]));
    const listenerSet = (config: NodeConfig): string =>
      JSON.stringify(config.secureChannelListeners.map((entry) => entry.address).sort());
    if (listenerSet(this.config) !== listenerSet(next)) unsafe.push('secureChannelListeners' as never);
    for (const key of unsafe) lines.push(`${key} changed: restart the node to apply it`);
    this.config = {
      ...this.config,
      secureChannelListeners: this.config.secureChannelListeners.map(
        (entry) => nextListeners.get(entry.address) ?? entry,
      ),
    };
    return lines;
  }

  /** Stops the node, the control socket and the metrics endpoint. */
  async stop(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.control === undefined ? resolve() : this.control.close(() => resolve()),
    );
    await new Promise<void>((resolve) =>
      this.metricsServer === undefined ? resolve() : this.metricsServer.close(() => resolve()),
    );
    this.metricsServer?.closeAllConnections();
    for (const relay of this.relays)
      if (relay.forwarder !== undefined) nodeMetrics(this.node).forgetRemoteForwarder(relay.forwarder);
    await this.node.stop();
  }
}

function hasWorkerMetadata(target: unknown): boolean {
  // `@Worker()` records its options under this registry symbol (di/decorators.ts); a plain class has none.
  return Reflect.hasMetadata(Symbol.for('sealroute:worker'), target as object);
}

/** `host:port` split (an IPv6 host in brackets loses them). */
export function splitHostPort(text: string): [string, string] {
  const colon = text.lastIndexOf(':');
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return [host, text.slice(colon + 1)];
}

/**
 * Follows a typed route (route-text.ts), opening each secure channel it names, timed in the node's
 * metrics. Resolves with the route to send on and the last channel opened, if any.
 */
export async function openRoute(
  ctx: Context,
  node: NodeRuntime,
  identity: Identity,
  text: string,
): Promise<{ route: ReturnType<typeof route>; last: SecureChannel | undefined }> {
  const steps = parseRouteText(text);
  let parts: RoutePart[] = [];
  let last: SecureChannel | undefined;
  for (const step of steps) {
    if (step.kind === 'tcp') parts.push([TCP, step.hostPort]);
    else if (step.kind === 'service') parts.push(step.address);
    else {
      const trustPolicy = step.trust === 'any-identity' ? TrustAnyIdentity : TrustIdentifier(step.trust);
      last = await nodeMetrics(node).timeHandshake(
        createSecureChannel(ctx, identity, route(...parts), { trustPolicy }),
      );
      parts = [last];
    }
  }
  return { route: route(...parts), last };
}

/** The node name a config file implies when it names none. */
export function nameFromFile(file: string): string {
  return basename(file).replace(/\.(ya?ml|json)$/, '');
}
