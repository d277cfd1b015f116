import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { TransportError } from '../errors';
import type { StreamListener } from '../stream-transport';
import { formatHostPort } from '../tcp/host-port';
import { formatWebSocketTarget, type WebSocketTarget } from './websocket-address';
import type { WebSocketLike } from './websocket-stream';
import type {
  WebSocketListenSettings,
  WebSocketListenerHooks,
  WebSocketRuntime,
} from './websocket-transport';

/**
 * WebSockets in Node, from the `ws` package: clients and listeners. Compression is off both ways
 * (`perMessageDeflate`: frames are ciphertext, which does not compress, and inflating is a peer's lever on
 * our memory and CPU), and one message is bounded by `maxMessageBytes` before it is buffered.
 */
export const wsRuntime: WebSocketRuntime = {
  connect(url, settings) {
    return new WebSocket(url, {
      maxPayload: settings.maxMessageBytes,
      perMessageDeflate: false,
      handshakeTimeout: settings.connectTimeoutMs,
      ca: settings.tls?.ca as string | undefined,
    }) as unknown as WebSocketLike;
  },
  async listen(at, settings, hooks) {
    const listener = new WsListener(at, settings, hooks);
    await listener.listen();
    return listener;
  },
};

/** An HTTP(S) server taking WebSocket upgrades on one path, each through the transport's gate. */
class WsListener implements StreamListener {
  bound = '';
  private readonly server: Server;
  private readonly ownServer: boolean;
  private readonly wss: WebSocketServer;

  constructor(
    private readonly at: WebSocketTarget,
    settings: WebSocketListenSettings,
    private readonly hooks: WebSocketListenerHooks,
  ) {
    this.ownServer = settings.server === undefined;
    if (settings.server !== undefined) {
      this.server = settings.server as Server;
    } else if (settings.secure) {
      if (settings.tls?.cert === undefined || settings.tls.key === undefined) {
        throw new TransportError(
          'LISTEN_FAILED',
          'a wss listener needs tls.cert and tls.key, or an https server',
        );
      }
      this.server = createHttpsServer({
        cert: settings.tls.cert as string,
        key: settings.tls.key as string,
      }) as unknown as Server;
    } else {
      this.server = createHttpServer();
    }
    if (this.ownServer) {
      // Before the upgrade a peer holds only a TCP connection and the HTTP parser: bounded in count and time.
      this.server.headersTimeout = settings.handshakeTimeoutMs;
      this.server.requestTimeout = settings.handshakeTimeoutMs;
      this.server.maxConnections = settings.maxConnections;
      this.server.on('request', (_req, res) => {
        res.writeHead(426, { Connection: 'close', Upgrade: 'websocket' }).end();
      });
      this.server.on('clientError', (_err, socket: Duplex) => socket.destroy());
    }
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: settings.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.server.on('upgrade', this.onUpgrade);
  }

  async listen(): Promise<void> {
    const server = this.server;
    if (this.ownServer) {
      await new Promise<void>((resolve, reject) => {
        const failed = (err: Error): void =>
          reject(
            new TransportError(
              'LISTEN_FAILED',
              `cannot listen on ${formatWebSocketTarget(this.at)}: ${err.message}`,
              { cause: err },
            ),
          );
        server.once('error', failed);
        server.listen({ host: this.at.host, port: this.at.port }, () => {
          server.off('error', failed);
          resolve();
        });
      });
      server.on('error', () => undefined); // an accept error (EMFILE) must not crash the process
    }
    const address = server.address();
    if (address === null || typeof address === 'string') {
      throw new TransportError('LISTEN_FAILED', 'the server is not listening on a host and port');
    }
    this.bound = formatWebSocketTarget({ host: address.address, port: address.port, path: this.at.path });
  }

  close(): Promise<void> {
    this.server.off('upgrade', this.onUpgrade);
    this.wss.close();
    if (!this.ownServer || !this.server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections?.();
    });
  }

  private readonly onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => undefined); // reported through 'close' by the connection
    const path = (request.url ?? '/').split('?')[0];
    if (path !== this.at.path) {
      if (this.ownServer) reject(socket, 404, 'Not Found');
      return; // someone else's upgrade on a shared server
    }
    const ip = request.socket.remoteAddress ?? 'unknown';
    const remote = formatHostPort(ip, request.socket.remotePort ?? 0);
    const admission = this.hooks.gate.admit(ip);
    if (admission instanceof TransportError) {
      reject(socket, 503, 'Service Unavailable');
      this.hooks.refuse(this.bound, remote, admission);
      return;
    }
    socket.once('close', admission.release);
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      this.hooks.accept(ws as unknown as WebSocketLike, remote, admission);
    });
  };
}

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}
