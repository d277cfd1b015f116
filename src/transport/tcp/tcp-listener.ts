import { createServer, type Server, type Socket } from 'node:net';
import { TransportError } from '../errors';
import { formatHostPort, type HostPort } from './host-port';

/** What a listener needs from its transport. */
export interface ListenerHost {
  /** A connection passed the limits: it becomes a connection worker. */
  accept(socket: Socket, listener: TcpListener): void;
  /** A connection was refused at the door. */
  refuse(listener: TcpListener, remote: string, reason: TransportError): void;
  /**
   * Closes the oldest unvouched connection this listener accepted from `ip` (or, without one, from the
   * remote holding the most), to admit a newcomer; its socket, or undefined if there is none.
   */
  evictUnvouched(listener: TcpListener, ip: string | undefined): Socket | undefined;
}

/** Limits a listener enforces. */
export interface ListenerLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerRemote: number;
}

/**
 * A TCP server socket that admits connections up to a total and a per-remote-host limit, counting each
 * until its socket closes. At a limit it first makes room by evicting an unvouched connection (the oldest
 * of the same remote, or of the remote holding the most); only when every connection counted is vouched
 * for is the newcomer closed at once, with a logged reason, before any of its bytes are read.
 */
export class TcpListener {
  private server: Server | undefined;
  private total = 0;
  private readonly perRemote = new Map<string, number>();
  /** Sockets counted, and their remote IP. */
  private readonly admitted = new Map<Socket, string>();
  /** The bound `host:port` (the real port when asked for port 0). */
  bound = '';

  constructor(
    private readonly host: ListenerHost,
    private readonly limits: ListenerLimits,
  ) {}

  /** Connections currently admitted. */
  get connections(): number {
    return this.total;
  }

  /** Binds and starts accepting; resolves with the bound `host:port`. */
  async listen(at: HostPort): Promise<string> {
    const server = createServer({ noDelay: true }, this.onConnection);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error): void =>
        reject(
          new TransportError(
            'LISTEN_FAILED',
            `cannot listen on ${formatHostPort(at.host, at.port)}: ${err.message}`,
            {
              cause: err,
            },
          ),
        );
      server.once('error', failed);
      server.listen({ host: at.host, port: at.port }, () => {
        server.off('error', failed);
        resolve();
      });
    });
    // An accept error (EMFILE, say) must not crash the process; the server keeps listening.
    server.on('error', () => undefined);
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('a TCP server has a host and port');
    this.bound = formatHostPort(address.address, address.port);
    return this.bound;
  }

  /** Stops accepting. Resolves once the server socket is closed (its connections are closed by the owner). */
  close(): Promise<void> {
    const server = this.server;
    if (server === undefined || !server.listening) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private readonly onConnection = (socket: Socket): void => {
    const ip = socket.remoteAddress ?? 'unknown';
    const remote = formatHostPort(ip, socket.remotePort ?? 0);
    if ((this.perRemote.get(ip) ?? 0) >= this.limits.maxConnectionsPerRemote) {
      const evicted = this.host.evictUnvouched(this, ip);
      if (evicted !== undefined) this.forget(evicted);
    }
    if (this.total >= this.limits.maxConnections) {
      const evicted = this.host.evictUnvouched(this, undefined);
      if (evicted !== undefined) this.forget(evicted);
    }
    const fromRemote = this.perRemote.get(ip) ?? 0;
    let refusal: string | undefined;
    if (this.total >= this.limits.maxConnections) {
      refusal = `the listener holds its maximum of ${this.limits.maxConnections} connections, all vouched for`;
    } else if (fromRemote >= this.limits.maxConnectionsPerRemote) {
      refusal = `${ip} holds its maximum of ${this.limits.maxConnectionsPerRemote} connections, all vouched for`;
    }
    if (refusal !== undefined) {
      socket.on('error', () => undefined);
      socket.destroy();
      this.host.refuse(this, remote, new TransportError('LIMIT_REACHED', refusal));
      return;
    }
    this.total++;
    this.perRemote.set(ip, fromRemote + 1);
    this.admitted.set(socket, ip);
    socket.once('close', () => this.forget(socket));
    this.host.accept(socket, this);
  };

  /** Stops counting a socket (once: when it closes, or at once when it was evicted). */
  private forget(socket: Socket): void {
    const ip = this.admitted.get(socket);
    if (ip === undefined) return;
    this.admitted.delete(socket);
    this.total--;
    const left = (this.perRemote.get(ip) ?? 1) - 1;
    if (left === 0) this.perRemote.delete(ip);
    else this.perRemote.set(ip, left);
  }
}
