import { createServer, type Server, type Socket } from 'node:net';
import { TransportError } from '../errors';
import { formatHostPort, type HostPort } from './host-port';

/** What a listener needs from its transport. */
export interface ListenerHost {
  /** A connection passed the limits: it becomes a connection worker. */
  accept(socket: Socket, listener: TcpListener): void;
  /** A connection was refused at the door. */
  refuse(listener: TcpListener, remote: string, reason: TransportError): void;
}

/** Limits a listener enforces. */
export interface ListenerLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerRemote: number;
}

/**
 * A TCP server socket that admits connections up to a total and a per-remote-host limit, counting each
 * until its socket closes. Beyond the limits a connection is closed at once, with a logged reason, before
 * any of its bytes are read.
 */
export class TcpListener {
  private server: Server | undefined;
  private total = 0;
  private readonly perRemote = new Map<string, number>();
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
    const fromRemote = this.perRemote.get(ip) ?? 0;
    let refusal: string | undefined;
    if (this.total >= this.limits.maxConnections) {
      refusal = `the listener holds its maximum of ${this.limits.maxConnections} connections`;
    } else if (fromRemote >= this.limits.maxConnectionsPerRemote) {
      refusal = `${ip} holds its maximum of ${this.limits.maxConnectionsPerRemote} connections`;
    }
    if (refusal !== undefined) {
      socket.on('error', () => undefined);
      socket.destroy();
      this.host.refuse(this, remote, new TransportError('LIMIT_REACHED', refusal));
      return;
    }
    this.total++;
    this.perRemote.set(ip, fromRemote + 1);
    socket.once('close', () => {
      this.total--;
      const left = (this.perRemote.get(ip) ?? 1) - 1;
      if (left === 0) this.perRemote.delete(ip);
      else this.perRemote.set(ip, left);
    });
    this.host.accept(socket, this);
  };
}
