import { createServer, type Server, type Socket } from 'node:net';
import type { Admission, ConnectionGate } from '../connection-gate';
import { TransportError } from '../errors';
import type { StreamListener } from '../stream-transport';
import { formatHostPort, type HostPort } from './host-port';

/** What a listener hands its transport. */
export interface TcpListenerHost {
  /** A socket passed the gate: it becomes a connection. */
  accept(socket: Socket, remote: string, admission: Admission): void;
  /** A socket was refused at the gate (already destroyed). */
  refuse(listener: string, remote: string, reason: TransportError): void;
}

/**
 * A TCP server socket whose connections pass a `ConnectionGate` before any of their bytes are read; each
 * holds its place until its socket closes.
 */
export class TcpListener implements StreamListener {
  private server: Server | undefined;
  /** The bound `host:port` (the real port when asked for port 0). */
  bound = '';

  constructor(
    private readonly host: TcpListenerHost,
    private readonly gate: ConnectionGate,
  ) {}

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
    if (address === null || typeof address === 'string') {
      throw new TransportError('LISTEN_FAILED', 'the bound TCP server reports no host and port');
    }
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
    socket.on('error', () => undefined); // reported through 'close' by the connection
    const admission = this.gate.admit(ip);
    if (admission instanceof TransportError) {
      socket.destroy();
      this.host.refuse(this.bound, remote, admission);
      return;
    }
    socket.once('close', admission.release);
    this.host.accept(socket, remote, admission);
  };
}
