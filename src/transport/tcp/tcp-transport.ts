import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { Address, TCP } from '../../core/address';
import { encodedBodySize } from '../../core/codec';
import { originOf, type LocalMessage } from '../../core/message';
import { Context } from '../../node/context';
import { ByteBudget } from '../../node/byte-budget';
import type { Logger } from '../../node/logger';
import type { NodeRuntime } from '../../node/node-runtime';
import type { Deliverable } from '../../node/router';
import { denyAll } from '../../node/worker';
import { TransportError } from '../errors';
import { ThrottledLog } from '../throttled-log';
import { formatHostPort, parseHostPort } from './host-port';
import { TcpConnection, type ConnectionHost } from './tcp-connection';
import { TcpListener, type ListenerHost } from './tcp-listener';
import { resolveTcpOptions, type TcpTransportOptions } from './tcp-options';

/** A connection opened (both preambles exchanged). */
export interface ConnectionOpenedEvent {
  /** The local address of the connection's worker. */
  readonly address: Address;
  /** The peer, as `host:port`. */
  readonly remote: string;
  readonly outgoing: boolean;
}

/** A connection closed, and why. */
export interface ConnectionClosedEvent extends ConnectionOpenedEvent {
  readonly reason: TransportError;
}

/** A listener refused a connection at the door (a limit was reached). */
export interface ConnectionRefusedEvent {
  /** The listener's bound `host:port`. */
  readonly listener: string;
  readonly remote: string;
  readonly reason: TransportError;
}

/** Counters of a `TcpTransport`'s defences (each hit is also logged, throttled). */
export interface TcpTransportStats {
  /** Connections closed because the node's partial frames would exceed `maxPartialFrameBytes`. */
  partialFrameBudgetClosed: number;
  /** Messages toward a connection refused because its queue held `maxQueuedBytesPerConnection`. */
  queueBytesRefused: number;
  /** Unvouched connections closed to admit a newcomer to a full listener. */
  evictedUnvouched: number;
  /** Accepted connections closed because nobody vouched for them within `unvouchedTimeoutMs`. */
  unvouchedTimedOut: number;
}

/** Events a `TcpTransport` emits. */
export interface TcpTransportEvents {
  connectionOpened: [ConnectionOpenedEvent];
  connectionClosed: [ConnectionClosedEvent];
  connectionRefused: [ConnectionRefusedEvent];
}

/**
 * A fresh, unguessable connection address. A connection's address lets whoever knows it send through the
 * connection (it is how replies find their way back), so on a hub it must not be guessable from the
 * addresses a peer gets to see: counters (`Address.unique`) would let one client reach another.
 */
function connectionAddress(): Address {
  return Address.local(`tcp.c.${randomBytes(16).toString('hex')}`);
}

/**
 * What a message queued toward a connection stands for, in bytes: its body as encoded (strings counted at
 * their worst, 3 bytes a character, to stay O(1)) and its routes.
 */
function queuedSize(message: LocalMessage): number {
  const body = message.body;
  const bodySize =
    body instanceof Uint8Array
      ? body.byteLength
      : typeof body === 'string'
        ? body.length * 3
        : encodedBodySize(body);
  return bodySize + 64 * (message.onwardRoute.length + message.returnRoute.length);
}

/** Where an accepted connection came from. */
interface Accepted {
  readonly listener: TcpListener;
  readonly ip: string;
  readonly socket: Socket;
}

/** Reasons that are the peer's doing (logged as warnings, throttled); the rest are ordinary closes. */
const PEER_FAULTS = new Set([
  'FRAME_TOO_LARGE',
  'PROTOCOL_MISMATCH',
  'MALFORMED',
  'TIMEOUT',
  'LIMIT_REACHED',
]);

/**
 * The TCP transport of a node. It routes every address of type `TCP` (`[TCP, 'host:port']`, at any
 * position of a route): a message whose next hop is one goes out over a connection to that host, made on
 * first use. Each connection is a worker at a local address; see `TcpConnection`. Listeners accept
 * connections from other nodes, within limits.
 */
export class TcpTransport extends EventEmitter<TcpTransportEvents> implements ConnectionHost, ListenerHost {
  /** The address registered as the router of the TCP address type. */
  readonly routerAddress = Address.unique('tcp.router.');
  /** The worker whose shutdown stops the transport when the node stops. */
  readonly workerAddress = Address.unique('tcp.transport.');
  readonly options: Required<TcpTransportOptions>;
  readonly logger: Logger;
  readonly stats: TcpTransportStats = {
    partialFrameBudgetClosed: 0,
    queueBytesRefused: 0,
    evictedUnvouched: 0,
    unvouchedTimedOut: 0,
  };
  /** Partial frames held by all connections (`maxPartialFrameBytes`). */
  readonly partialFrames: ByteBudget;
  /** Accepted connections, oldest first. */
  private readonly accepted = new Map<TcpConnection, Accepted>();
  private readonly peerLog: ThrottledLog;
  /** Outgoing connections by `host:port`: at most one live connection per remote. */
  private readonly outgoingByRemote = new Map<string, TcpConnection>();
  private readonly byAddress = new Map<string, TcpConnection>();
  private readonly listenerSet = new Set<TcpListener>();
  private closing: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly node: NodeRuntime,
    options: TcpTransportOptions,
  ) {
    super();
    this.options = resolveTcpOptions(options);
    this.partialFrames = new ByteBudget(this.options.maxPartialFrameBytes, 'maxPartialFrameBytes');
    this.logger = node.logger.child({ component: 'tcp' });
    this.peerLog = new ThrottledLog(this.logger);
  }

  /**
   * Starts a TCP transport on the node of `owner` (a context or the node) and makes it the router of
   * `TCP` addresses. Rejects with `NodeError` `ADDRESS_IN_USE` if the node already has a TCP router.
   */
  static async create(
    owner: Context | NodeRuntime,
    options: TcpTransportOptions = {},
  ): Promise<TcpTransport> {
    const node = owner instanceof Context ? owner.node : owner;
    const transport = new TcpTransport(node, options);
    node.router.register(transport.routerAddress, transport.dispatcher);
    try {
      node.registerTypeRouter(TCP, transport.routerAddress);
    } catch (err) {
      node.router.unregister(transport.routerAddress, transport.dispatcher);
      throw err;
    }
    // A worker only for its lifecycle: the node stops workers newest first, so this one stops after every
    // connection and every service started after the transport, and its shutdown closes the listeners.
    await node.startWorker(
      transport.workerAddress,
      { handleMessage: () => undefined, shutdown: () => transport.closeAll() },
      { access: denyAll },
    );
    return transport;
  }

  /**
   * Listens on `host:port` (`'127.0.0.1:0'` for any free port) and resolves with the bound `host:port`.
   * Rejects with `TransportError` `LISTEN_FAILED` or `INVALID_ADDRESS`.
   */
  async listen(address = '127.0.0.1:0'): Promise<string> {
    this.assertRunning();
    const listener = new TcpListener(this, {
      maxConnections: this.options.maxConnectionsPerListener,
      maxConnectionsPerRemote: this.options.maxConnectionsPerRemote,
    });
    const bound = await listener.listen(parseHostPort(address, true));
    if (this.closing !== undefined) {
      await listener.close(); // stopped while binding
      throw new TransportError('TRANSPORT_STOPPED', 'the TCP transport has stopped');
    }
    this.listenerSet.add(listener);
    this.logger.info({ address: bound }, 'listening');
    return bound;
  }

  /** The bound `host:port` of every listener. */
  listenAddresses(): string[] {
    return [...this.listenerSet].map((listener) => listener.bound);
  }

  /** Stops accepting on a listener (its connections stay open). */
  async stopListening(bound: string): Promise<void> {
    for (const listener of this.listenerSet) {
      if (listener.bound !== bound) continue;
      this.listenerSet.delete(listener);
      await listener.close();
    }
  }

  /**
   * The outgoing connection to `host:port`, made if there is none, once it is open: resolves with the
   * connection's local address. Sending to `[TCP, 'host:port']` connects the same way without waiting.
   * Rejects with `TransportError` `CONNECT_FAILED` (the cause says why) or `INVALID_ADDRESS`.
   */
  async connect(remote: string): Promise<Address> {
    const connection = this.outgoingTo(remote);
    await connection.opened();
    return connection.address;
  }

  /** A connection by its local address, or an outgoing one by its remote `host:port`. */
  connection(which: Address | string): TcpConnection | undefined {
    if (which instanceof Address) return this.byAddress.get(which.key);
    const outgoing = this.outgoingByRemote.get(which);
    if (outgoing !== undefined) return outgoing;
    try {
      return this.byAddress.get(Address.parse(which).key);
    } catch {
      return undefined;
    }
  }

  /** Every live connection, outgoing and accepted. */
  connections(): TcpConnection[] {
    return [...this.byAddress.values()];
  }

  /** Closes a connection gracefully, if there is one. */
  async disconnect(which: Address | string): Promise<void> {
    await this.connection(which)?.close();
  }

  /**
   * Stops the transport: listeners and connections close, TCP addresses are no longer routed, and its
   * workers stop. The node's `stop()` does this too.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.closeAll();
      await this.node.stopWorker(this.workerAddress).catch(() => undefined);
    })();
    return this.stopping;
  }

  private closeAll(): Promise<void> {
    this.closing ??= (async () => {
      this.node.unregisterTypeRouter(TCP, this.routerAddress);
      this.node.router.unregister(this.routerAddress, this.dispatcher);
      const listeners = [...this.listenerSet];
      this.listenerSet.clear();
      const closingListeners = listeners.map((listener) => listener.close());
      await Promise.all(
        this.connections().map((connection) =>
          this.node.stopWorker(connection.address).catch(() => connection.close()),
        ),
      );
      await Promise.all(closingListeners);
      this.peerLog.flush();
      this.logger.debug({}, 'TCP transport stopped');
    })();
    return this.closing;
  }

  /**
   * Receives every message whose next hop is a TCP address and hands it to the connection to that host,
   * replacing the hop with the connection's address. Not a worker with a mailbox of its own: the sender
   * waits on the connection's mailbox directly, so one slow peer holds up only the traffic meant for it.
   */
  private readonly dispatcher: Deliverable = {
    deliver: (message: LocalMessage): Promise<void> | undefined => {
      const next = message.onwardRoute.nextOrThrow();
      const origin = originOf(message);
      if (origin !== undefined && !this.options.relayTransportMessages) {
        // Nothing from outside (a connection, a secure channel) makes this node connect anywhere: no pivot.
        this.node.flowControls.stats.refused++;
        this.node.deadLetters.record(
          'access-denied',
          `this node does not relay messages from outside (${origin.toString()}) to ${next.key} (relayTransportMessages is off)`,
          message,
        );
        return undefined;
      }
      let connection: TcpConnection;
      try {
        connection = this.outgoingTo(next.value);
      } catch (err) {
        const code = (err as TransportError).code === 'INVALID_ADDRESS' ? 'INVALID_ADDRESS' : 'UNREACHABLE';
        this.node.deadLetters.record('undeliverable', (err as Error).message, message, { code, cause: err });
        return undefined;
      }
      // Relaying was asked for: the connection takes the message, and replies may come back the same way.
      if (origin !== undefined) this.node.flowControls.join(origin.last.producer, connection.address);
      return this.node.router.deliver(
        message.withRoutes(
          message.onwardRoute.stepForward().prepend(connection.address),
          message.returnRoute,
        ),
      );
    },
  };

  /** The live outgoing connection to `remote`, or a new one (connecting; messages queue meanwhile). */
  private outgoingTo(remote: string): TcpConnection {
    this.assertRunning();
    const target = parseHostPort(remote);
    const key = formatHostPort(target.host, target.port);
    const existing = this.outgoingByRemote.get(key);
    if (existing !== undefined) return existing;
    if (this.outgoingByRemote.size >= this.options.maxOutgoingConnections) {
      throw new TransportError(
        'LIMIT_REACHED',
        `cannot connect to ${key}: this node holds its maximum of ${this.options.maxOutgoingConnections} outgoing connections`,
      );
    }
    const connection = new TcpConnection(this, connectionAddress(), key, target);
    this.track(connection);
    this.outgoingByRemote.set(key, connection);
    this.startConnectionWorker(connection);
    return connection;
  }

  /** @internal A listener admitted a socket. */
  accept(socket: Socket, listener: TcpListener): void {
    socket.on('error', () => undefined); // reported through 'close' by the connection
    if (this.closing !== undefined || this.node.isStopped) {
      socket.destroy();
      return;
    }
    const remote = formatHostPort(socket.remoteAddress ?? 'unknown', socket.remotePort ?? 0);
    const connection = new TcpConnection(this, connectionAddress(), remote, undefined, socket);
    this.track(connection);
    this.accepted.set(connection, { listener, ip: socket.remoteAddress ?? 'unknown', socket });
    this.startConnectionWorker(connection);
  }

  /**
   * @internal A full listener makes room: closes the oldest unvouched connection it accepted from `ip`, or
   * (no ip) from the remote holding the most unvouched ones. Returns its socket, or undefined if none.
   */
  evictUnvouched(listener: TcpListener, ip: string | undefined): Socket | undefined {
    let victim: TcpConnection | undefined;
    if (ip === undefined) {
      const perIp = new Map<string, { count: number; oldest: TcpConnection }>();
      let most: { count: number; oldest: TcpConnection } | undefined;
      for (const [connection, from] of this.accepted) {
        if (from.listener !== listener || connection.isVouched) continue;
        let entry = perIp.get(from.ip);
        if (entry === undefined) perIp.set(from.ip, (entry = { count: 0, oldest: connection }));
        entry.count++;
        if (most === undefined || entry.count > most.count) most = entry;
      }
      victim = most?.oldest;
    } else {
      for (const [connection, from] of this.accepted) {
        if (from.listener === listener && from.ip === ip && !connection.isVouched) {
          victim = connection;
          break;
        }
      }
    }
    if (victim === undefined) return undefined;
    const socket = this.accepted.get(victim)!.socket;
    this.stats.evictedUnvouched++;
    victim.evict('evicted to admit a newcomer: the listener is full and nobody vouched for this connection');
    return socket;
  }

  /** @internal */
  chargePartialFrames(connection: TcpConnection, bytes: number): boolean {
    const budget = this.partialFrames;
    while (budget.wouldExceed(bytes)) {
      // Whoever holds the most is the likeliest offender: honest traffic is mostly small frames.
      let largest: TcpConnection | undefined;
      let most = connection.partialFrameBytes + bytes;
      for (const other of this.byAddress.values()) {
        if (other !== connection && other.partialFrameBytes > most) {
          most = other.partialFrameBytes;
          largest = other;
        }
      }
      this.stats.partialFrameBudgetClosed++;
      budget.exceeded++;
      if (largest === undefined) return false;
      largest.evict(
        `the node's partial frames would exceed maxPartialFrameBytes (${budget.limit}), and this connection holds the most (${most} bytes)`,
      );
    }
    budget.charge(bytes);
    return true;
  }

  /** @internal */
  releasePartialFrames(bytes: number): void {
    this.partialFrames.release(bytes);
  }

  /** @internal */
  unvouchedTimedOut(): void {
    this.stats.unvouchedTimedOut++;
  }

  /** @internal A listener refused a socket. */
  refuse(listener: TcpListener, remote: string, reason: TransportError): void {
    this.peerLog.warn(
      { listener: listener.bound, remote, code: reason.code },
      `connection refused: ${reason.message}`,
    );
    this.emit('connectionRefused', { listener: listener.bound, remote, reason });
  }

  private track(connection: TcpConnection): void {
    this.byAddress.set(connection.address.key, connection);
  }

  private startConnectionWorker(connection: TcpConnection): void {
    // startWorker registers the address before its first await, so messages routed to the connection from
    // here on queue in its mailbox while it connects.
    this.node
      .startWorker(connection.address, connection, {
        acceptsTransportMessages: true,
        mailboxCapacity: this.options.connectionMailboxCapacity,
        queueBytes: {
          limit: this.options.maxQueuedBytesPerConnection,
          sizeOf: queuedSize,
          onRefused: (_message, queued) => {
            this.stats.queueBytesRefused++;
            this.peerLog.warn(
              { connection: connection.address.value, remote: connection.remote, queued },
              `a message toward ${connection.remote} was refused: its queue holds ${queued} bytes (maxQueuedBytesPerConnection)`,
            );
          },
        },
      })
      .catch((err: unknown) => {
        this.logger.debug({ err, connection: connection.address.value }, 'connection worker did not start');
        void connection.close();
      });
  }

  /** @internal */
  connectionOpened(connection: TcpConnection): void {
    this.logger.debug(
      { connection: connection.address.value, remote: connection.remote, outgoing: connection.outgoing },
      'connection opened',
    );
    this.emit('connectionOpened', {
      address: connection.address,
      remote: connection.remote,
      outgoing: connection.outgoing,
    });
  }

  /** @internal */
  connectionClosed(connection: TcpConnection, reason: TransportError): void {
    this.byAddress.delete(connection.address.key);
    this.accepted.delete(connection);
    if (this.outgoingByRemote.get(connection.remote) === connection)
      this.outgoingByRemote.delete(connection.remote);
    const fields = {
      connection: connection.address.value,
      remote: connection.remote,
      outgoing: connection.outgoing,
      code: reason.code,
    };
    if (PEER_FAULTS.has(reason.code)) this.peerLog.warn(fields, `connection closed: ${reason.message}`);
    else if (reason.code === 'CONNECT_FAILED') this.logger.warn(fields, reason.message);
    else if (reason.code === 'CLOSED_LOCALLY')
      this.logger.debug(fields, `connection closed: ${reason.message}`);
    else this.logger.info(fields, `connection closed: ${reason.message}`);
    this.emit('connectionClosed', {
      address: connection.address,
      remote: connection.remote,
      outgoing: connection.outgoing,
      reason,
    });
  }

  private assertRunning(): void {
    if (this.closing !== undefined || this.node.isStopped) {
      throw new TransportError('TRANSPORT_STOPPED', 'the TCP transport has stopped');
    }
  }
}
