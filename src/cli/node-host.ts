/**
 * A declarative node: what `sealroute node start` and `sealroute hub start` run. It assembles a node from a
 * checked configuration with the library's public API only (the same calls as examples/hub.ts and
 * examples/bob.ts), answers its control socket, serves metrics if asked, and reloads what is safe on SIGHUP.
 */
import type { Server } from 'node:net';
import {
  ForwardingService,
  type WebSocketTransport,
  type AuthorityService,
  type MemberCredentials,
  SecureChannel,
  TcpTransport,
  TrustAnyIdentity,
  createNode,
  createTcpInlet,
  createTcpOutlet,
  type TcpInlet,
  type TcpOutlet,
  nodeMetrics,
  type Context,
  type Identity,
  type NodeRuntime,
} from '../index';
import { type NodeConfig } from './config';
import { serveControl, type ControlRequest } from './control-socket';
import { loadIdentity } from './identities';
import {
  authorityStatus,
  channelStatus,
  connectionsOf,
  deadLettersOf,
  hostedStatus,
  portalStatus,
  relayStatus,
  type NodeStatus,
  type Relay,
} from './node-status';
import { ConfiguredListeners, reloadConfig } from './node-listeners';
import { startConfiguredWorker, trustText } from './node-workers';
import { openRoute, splitHostPort, webSocketTransport } from './open-route';
import { CliError } from './output';
import { socketPath } from './paths';
import { countTcpBytes } from './socket-bytes';
import { enrolledCredentials } from './node-credentials';
import { authorityKeys, startAuthorityService, startHubService } from './node-services';
import { registerRelay } from './node-relays';

export type { NodeStatus } from './node-status';

/** A running declarative node. */
export class NodeHost {
  private readonly started = Date.now();
  private readonly listeners = new ConfiguredListeners();
  private readonly channels = new Set<SecureChannel>();
  private readonly channelSince = new WeakMap<SecureChannel, number>();
  private readonly relays: Relay[] = [];
  private readonly portals: { end: TcpOutlet | TcpInlet; address: string; to: string }[] = [];
  private service: ForwardingService | undefined;
  private authority: AuthorityService | undefined;
  private ws: WebSocketTransport | undefined;
  /** The credential this node presents (from `sealroute enroll`), if any. */
  private credentials: MemberCredentials | undefined;
  /** Public keys of the authorities whose credentials its channels accept. */
  private trusted: string[] = [];
  private control: Server | undefined;
  private metricsServer: import('node:http').Server | undefined;
  private isReady = false;
  /** The metrics endpoint's port: its sockets are not the node's traffic. */
  private metricsPort = -1;
  readonly tcpListeners: string[] = [];
  readonly wsListeners: string[] = [];

  private constructor(
    readonly name: string,
    readonly node: NodeRuntime,
    readonly ctx: Context,
    readonly identity: Identity,
    private readonly identityName: string,
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
    const { node } = createNode({ tracing: config.tracing });
    const ctx = node.context('cli');
    const tcp = await TcpTransport.create(ctx);
    const host = new NodeHost(name, node, ctx, identity, identityName, tcp, config);
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
    // The metrics endpoint's sockets, and WebSocket listeners' (counted as `ws`), are not TCP traffic.
    const wsPorts = new Set<number>();
    const bytes = countTcpBytes(
      (socket) => socket.localPort === this.metricsPort || wsPorts.has(socket.localPort!),
    );
    node.once('stopped', bytes.stop);
    metrics.trackTransport('tcp', this.tcp, bytes.read);
    say(`Node ${this.name} runs as ${this.identity.identifier}`);
    this.trusted = authorityKeys(config.authorities);
    if (config.credential === 'enrolled') {
      this.credentials = await enrolledCredentials(ctx, this.identity, this.identityName);
      if (this.credentials !== undefined) {
        node.once('stopped', () => this.credentials?.stop());
        say(`Presenting the credential from enrolling ${this.identityName}`);
      }
    }
    if (config.hub !== undefined) {
      const hub = await startHubService(ctx, config.hub, this.name);
      this.service = hub.service;
      metrics.trackForwardingService(this.service);
      if (hub.authorities.length > 0)
        say(`Admitting relays by credential from ${hub.authorities.join(', ')}`);
      const { federated } = hub;
      if (federated !== undefined) {
        say(`Federated: ${federated.description}`);
        node.once('stopped', () => void federated.stop().catch(() => undefined)); // the service stops with it
      }
    }
    const authority = await startAuthorityService(ctx, this.identity, this.identityName, config.authority);
    this.authority = authority?.service;
    for (const listen of config.tcp?.listen ?? []) {
      const bound = await this.tcp.listen(listen);
      this.tcpListeners.push(bound);
      say(`Listening on TCP ${bound}`);
    }
    if (authority !== undefined && this.tcpListeners[0] !== undefined) {
      await authority.record(this.tcpListeners[0], this.name);
      say(`Authority public key ${Buffer.from(this.identity.publicKey).toString('hex')}`);
    }
    if (config.ws !== undefined) {
      this.ws = await webSocketTransport(node, ctx);
      metrics.trackTransport('ws', this.ws);
      for (const listen of config.ws.listen) {
        const bound = await this.ws.listen(listen);
        wsPorts.add(Number(splitHostPort(bound.split('/')[0]!)[1]));
        this.wsListeners.push(bound);
        say(`Listening on WebSocket ${bound}`);
      }
    }
    for (const entry of config.secureChannelListeners) {
      await this.listeners.start(ctx, this.identity, entry, this.channelCredentials(), (channel) =>
        this.remember(channel),
      );
      say(`Secure channel listener at ${entry.address} (trust: ${trustText(entry.trust)})`);
    }
    for (const worker of config.workers) {
      await startConfiguredWorker(node, worker);
      say(`Worker at ${worker.address}`);
    }
    for (const outlet of config.tcpOutlets) {
      await this.createOutlet(outlet.address, outlet.target, outlet.access);
      say(`TCP outlet at ${outlet.address} -> ${outlet.target}`);
    }
    this.control = await serveControl(this.socket, (request) => this.handle(request));
    say(`Control socket ${this.socket}`);
    if (config.metrics !== undefined) {
      const { startMetricsEndpoint } = await import('./metrics-server');
      const endpoint = await startMetricsEndpoint(config.metrics.listen, {
        metrics,
        snapshot: () => node.metrics(),
        healthy: () => !node.isStopped,
        ready: () => this.readiness(),
      });
      this.metricsServer = endpoint.server;
      this.metricsPort = endpoint.port;
      say(`Metrics on ${endpoint.url}`);
    }
    for (const relay of config.relays) {
      const address = await this.createRelay(relay.hubs ?? [relay.hub!], relay.name, relay.to);
      say(`Forwarding address: ${address}`);
    }
    for (const inlet of config.tcpInlets) {
      const bound = await this.createInlet(inlet.listen, inlet.to);
      say(`TCP inlet on ${bound} -> ${inlet.to}`);
    }
    this.isReady = true;
  }

  /** What every secure channel of this node presents and accepts (credentials, trusted authorities). */
  channelCredentials(): { credentials?: MemberCredentials; authorities?: string[] } {
    return {
      ...(this.credentials === undefined ? {} : { credentials: this.credentials }),
      ...(this.trusted.length === 0 ? {} : { authorities: this.trusted }),
    };
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

  /** Registers a relay at `hubs` (one, or several to fail over among) delivering to `to`; its address. */
  async createRelay(hubs: readonly string[], name: string | undefined, to = 'listener'): Promise<string> {
    const spec = { hubs, name, to };
    const { relay, address } = await registerRelay(this.ctx, this.identity, this.credentials, spec);
    this.relays.push(relay);
    return address;
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
    const opened = await openRoute(this.ctx, this.node, this.identity, to, this.channelCredentials());
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
    const channel = await openRoute(this.ctx, this.node, this.identity, to, this.channelCredentials());
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
        return { forwardingAddress: await this.createRelay(request.hubs, request.name, request.to) };
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
      wsListeners: this.wsListeners,
      connections: [this.tcp, ...(this.ws === undefined ? [] : [this.ws])].flatMap(connectionsOf),
      listeners: this.listeners.status(),
      channels: [...this.channels].map((channel) => channelStatus(channel, this.channelSince.get(channel))),
      forwarders: {
        hosted: (this.service?.forwarders() ?? []).map(hostedStatus),
        relays: this.relays.map((relay) => relayStatus(relay, this.identity)),
      },
      portals: this.portals.map(portalStatus),
      deadLetters: deadLettersOf(this.node),
      authority: authorityStatus(this.authority, this.identity),
      metrics,
    };
  }

  /** Applies what is safe to apply of a new configuration (see `reloadConfig`); one line per change. */
  reload(next: NodeConfig): string[] {
    const { lines, config } = reloadConfig(this.config, next, this.listeners);
    this.config = config;
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
