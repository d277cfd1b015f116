import { EventEmitter } from 'eventemitter3';
import { Address, addressTypeName, type AddressType } from '../core/address';
import type { ByteBudget } from '../node/byte-budget';
import type { Logger } from '../node/logger';
import type { TransportHost } from '../node/transport-host';
import { denyAll } from '../node/worker';
import type { ByteStream } from './byte-stream';
import { ConnectionGate, type Admission } from './connection-gate';
import { ConnectionLimits, type StreamTransportStats } from './connection-limits';
import type { ConnectionOptions } from './connection-options';
import { TransportError } from './errors';
import { StreamConnection, type ConnectionHost } from './stream-connection';
import { ThrottledLog } from './throttled-log';
import type { StreamTransportEvents } from './stream-transport-events';
import { routeTransport, type Transport } from './transport';

export type {
  ConnectionClosedEvent,
  ConnectionOpenedEvent,
  ConnectionRefusedEvent,
  StreamTransportEvents,
} from './stream-transport-events';
export type { StreamTransportStats } from './connection-limits';

/** A listener of a stream transport: bound somewhere, admitting through its gate. */
export interface StreamListener {
  /** The bound address, as `listen` resolves it. */
  readonly bound: string;
  /** Stops accepting; resolves once closed (its connections are closed by the transport). */
  close(): Promise<void>;
}

/** Reasons that are the peer's doing (logged as warnings, throttled); the rest are ordinary closes. */
const PEER_FAULTS = new Set([
  'FRAME_TOO_LARGE',
  'PROTOCOL_MISMATCH',
  'MALFORMED',
  'TIMEOUT',
  'LIMIT_REACHED',
]);

/** 128 random bits as hex. */
function randomHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let hex = '';
  for (const byte of bytes) hex += (byte < 16 ? '0' : '') + byte.toString(16);
  return hex;
}

/**
 * The shared body of the transports whose connections are byte streams (TCP, WebSocket): a connection per
 * remote made on first use, listeners admitting through a `ConnectionGate`, one budget of partial frames
 * across connections, eviction of unvouched connections, events and stats. A subclass says how a remote is
 * named and dialled and how it listens; everything a peer can do to the node is bounded here, the same for
 * every stream.
 */
export abstract class StreamTransport
  extends EventEmitter<StreamTransportEvents>
  implements Transport, ConnectionHost
{
  /** The worker whose shutdown stops the transport when the node stops. */
  readonly workerAddress: Address;
  readonly options: Required<ConnectionOptions>;
  readonly logger: Logger;
  readonly stats: StreamTransportStats;
  /** Partial frames held by all connections (`maxPartialFrameBytes`). */
  readonly partialFrames: ByteBudget;
  private readonly limits: ConnectionLimits;
  private readonly peerLog: ThrottledLog;
  /** Outgoing connections by remote: at most one live connection per remote. */
  private readonly outgoingByRemote = new Map<string, StreamConnection>();
  private readonly byAddress = new Map<string, StreamConnection>();
  private readonly listenerSet = new Set<StreamListener>();
  private unroute: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  protected constructor(
    /** The node, through its transport host. */
    readonly node: TransportHost,
    readonly type: AddressType,
    readonly name: string,
    options: Required<ConnectionOptions>,
  ) {
    super();
    this.options = options;
    this.workerAddress = Address.unique(`${name}.transport.`);
    this.logger = node.logger.child({ component: name });
    this.peerLog = new ThrottledLog(this.logger);
    this.limits = new ConnectionLimits(options, this.peerLog, () => this.byAddress.values());
    this.stats = this.limits.stats;
    this.partialFrames = this.limits.partialFrames;
  }

  get relaysTransportMessages(): boolean {
    return this.options.relayTransportMessages;
  }

  /** The transport's name for people: `TCP`, `WS`. */
  protected get label(): string {
    return addressTypeName(this.type) ?? this.name;
  }

  /**
   * Registers the transport with its node: the router of its address type, and a worker only for its
   * lifecycle (the node stops workers newest first, so this one stops after every connection and every
   * service started after the transport, and its shutdown closes the listeners).
   */
  protected async register(): Promise<void> {
    this.unroute = routeTransport(this.node, this);
    await this.node.startWorker(
      this.workerAddress,
      { handleMessage: () => undefined, shutdown: () => this.closeAll() },
      { access: denyAll },
    );
  }

  /** Gives back what the transport holds beneath its streams (a NATS connection), once they are closed. */
  protected released(): Promise<void> {
    return Promise.resolve();
  }

  /** Parses a remote of this transport (`host:port`, ...): its canonical key, and how to open a stream to it. */
  protected abstract parseRemote(remote: string): { readonly key: string; readonly dial: () => ByteStream };

  /** Binds a listener at `address`, whose connections come in through `accept` after passing `gate`. */
  protected abstract bind(address: string, gate: ConnectionGate): Promise<StreamListener>;

  /**
   * Listens at an address of this transport (`host:port` for TCP, `host:port/path` for WebSocket;
   * `'127.0.0.1:0'` for any free port) and resolves with the bound one. Rejects with `TransportError`
   * `LISTEN_FAILED` (also where the runtime cannot listen, as in a browser) or `INVALID_ADDRESS`.
   */
  async listen(address = '127.0.0.1:0'): Promise<string> {
    this.assertRunning();
    const gate = new ConnectionGate(
      {
        maxConnections: this.options.maxConnectionsPerListener,
        maxConnectionsPerRemote: this.options.maxConnectionsPerRemote,
      },
      (from, ip) => this.limits.evictUnvouched(from, ip),
    );
    const listener = await this.bind(address, gate);
    if (this.closing !== undefined) {
      await listener.close(); // stopped while binding
      throw this.stoppedError();
    }
    this.listenerSet.add(listener);
    this.logger.info({ address: listener.bound }, 'listening');
    return listener.bound;
  }

  /** The bound address of every listener. */
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
   * The outgoing connection to `remote`, made if there is none, once it is open: resolves with the
   * connection's local address. Sending to a hop of this transport connects the same way without waiting.
   * Rejects with `TransportError` `CONNECT_FAILED` (the cause says why) or `INVALID_ADDRESS`.
   */
  async connect(remote: string): Promise<Address> {
    const connection = this.outgoingTo(remote);
    await connection.opened();
    return connection.address;
  }

  connectionFor(hop: string): Address {
    return this.outgoingTo(hop).address;
  }

  /** A connection by its local address, or an outgoing one by its remote. */
  connection(which: Address | string): StreamConnection | undefined {
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
  connections(): StreamConnection[] {
    return [...this.byAddress.values()];
  }

  /** Closes a connection gracefully, if there is one. */
  async disconnect(which: Address | string): Promise<void> {
    await this.connection(which)?.close();
  }

  /**
   * Stops the transport: listeners and connections close, its addresses are no longer routed, and its
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
      this.unroute?.();
      const listeners = [...this.listenerSet];
      this.listenerSet.clear();
      const closingListeners = listeners.map((listener) => listener.close());
      await Promise.all(
        this.connections().map((connection) =>
          this.node.stopWorker(connection.address).catch(() => connection.close()),
        ),
      );
      await Promise.all(closingListeners);
      await this.released();
      this.peerLog.flush();
      this.logger.debug({}, `${this.label} transport stopped`);
    })();
    return this.closing;
  }

  /** The live outgoing connection to `remote`, or a new one (connecting; messages queue meanwhile). */
  private outgoingTo(remote: string): StreamConnection {
    this.assertRunning();
    const { key, dial } = this.parseRemote(remote);
    const existing = this.outgoingByRemote.get(key);
    if (existing !== undefined) return existing;
    if (this.outgoingByRemote.size >= this.options.maxOutgoingConnections) {
      throw new TransportError(
        'LIMIT_REACHED',
        `cannot connect to ${key}: this node holds its maximum of ${this.options.maxOutgoingConnections} outgoing connections`,
      );
    }
    const connection = new StreamConnection(this, this.connectionAddress(), key, dial);
    this.byAddress.set(connection.address.key, connection);
    this.outgoingByRemote.set(key, connection);
    this.startConnectionWorker(connection);
    return connection;
  }

  /**
   * A fresh, unguessable connection address. A connection's address lets whoever knows it send through the
   * connection (it is how replies find their way back), so on a hub it must not be guessable from the
   * addresses a peer gets to see (128 random bits, as 32 hex digits).
   */
  private connectionAddress(): Address {
    return Address.local(`${this.name}.c.${randomHex()}`);
  }

  /** A listener admitted a stream (`remote` names the peer): it becomes a connection worker. */
  protected accept(stream: ByteStream, remote: string, admission: Admission): void {
    if (this.closing !== undefined || this.node.isStopped) {
      admission.release();
      stream.destroy();
      return;
    }
    const connection = new StreamConnection(this, this.connectionAddress(), remote, stream);
    this.byAddress.set(connection.address.key, connection);
    this.limits.admitted(connection, admission);
    this.startConnectionWorker(connection);
  }

  /** A listener refused a stream at its door. */
  protected refuse(listener: string, remote: string, reason: TransportError): void {
    this.peerLog.warn({ listener, remote, code: reason.code }, `connection refused: ${reason.message}`);
    this.emit('connectionRefused', { listener, remote, reason });
  }

  /** @internal */
  chargePartialFrames(connection: StreamConnection, bytes: number): boolean {
    return this.limits.chargePartialFrames(connection, bytes);
  }

  /** @internal */
  releasePartialFrames(bytes: number): void {
    this.partialFrames.release(bytes);
  }

  /** @internal */
  unvouchedTimedOut(): void {
    this.stats.unvouchedTimedOut++;
  }

  private startConnectionWorker(connection: StreamConnection): void {
    // startWorker registers the address before its first await, so messages routed to the connection from
    // here on queue in its mailbox while it connects.
    this.node
      .startWorker(connection.address, connection, {
        acceptsTransportMessages: true,
        mailboxCapacity: this.options.connectionMailboxCapacity,
        queueBytes: this.limits.queueBytes(connection),
      })
      .catch((err: unknown) => {
        this.logger.debug({ err, connection: connection.address.value }, 'connection worker did not start');
        void connection.close();
      });
  }

  /** @internal */
  connectionOpened(connection: StreamConnection): void {
    const { address, remote, outgoing } = connection;
    this.logger.debug({ connection: address.value, remote, outgoing }, 'connection opened');
    this.emit('connectionOpened', { address, remote, outgoing });
  }

  /** @internal */
  connectionClosed(connection: StreamConnection, reason: TransportError): void {
    this.byAddress.delete(connection.address.key);
    this.limits.closed(connection);
    if (this.outgoingByRemote.get(connection.remote) === connection)
      this.outgoingByRemote.delete(connection.remote);
    const { address, remote, outgoing } = connection;
    const fields = { connection: address.value, remote, outgoing, code: reason.code };
    if (PEER_FAULTS.has(reason.code)) this.peerLog.warn(fields, `connection closed: ${reason.message}`);
    else if (reason.code === 'CONNECT_FAILED') this.logger.warn(fields, reason.message);
    else if (reason.code === 'CLOSED_LOCALLY')
      this.logger.debug(fields, `connection closed: ${reason.message}`);
    else this.logger.info(fields, `connection closed: ${reason.message}`);
    this.emit('connectionClosed', { address, remote, outgoing, reason });
  }

  private stoppedError(): TransportError {
    return new TransportError('TRANSPORT_STOPPED', `the ${this.label} transport has stopped`);
  }

  private assertRunning(): void {
    if (this.closing !== undefined || this.node.isStopped) throw this.stoppedError();
  }
}
