import { WS, WSS } from '../../core/address';
import type { Context } from '../../node/context';
import type { NodeRuntime } from '../../node/node-runtime';
import { transportHost, type TransportHost } from '../../node/transport-host';
import type { ByteStream } from '../byte-stream';
import type { Admission, ConnectionGate } from '../connection-gate';
import { resolveConnectionOptions, type ConnectionOptions } from '../connection-options';
import { TransportError } from '../errors';
import { StreamTransport, type StreamListener } from '../stream-transport';
import {
  formatWebSocketTarget,
  parseWebSocketTarget,
  webSocketUrl,
  type WebSocketTarget,
} from './websocket-address';
import { WEBSOCKET_STREAM_LIMITS, WebSocketStream, type WebSocketLike } from './websocket-stream';

/** TLS material of a `wss` listener, or the trust of a `wss` client (Node only). */
export interface WebSocketTls {
  /** PEM certificate chain and private key of a listener. */
  readonly cert?: string | Uint8Array;
  readonly key?: string | Uint8Array;
  /** PEM certificates a client trusts beyond the system's (a self-signed hub, in tests). */
  readonly ca?: string | Uint8Array;
}

/** What a listener of a WebSocket runtime needs from its transport. */
export interface WebSocketListenerHooks {
  readonly gate: ConnectionGate;
  /** An upgraded WebSocket passed the gate: it becomes a connection. */
  accept(socket: WebSocketLike, remote: string, admission: Admission): void;
  /** A request was refused at the gate (already answered and closed). */
  refuse(listener: string, remote: string, reason: TransportError): void;
}

/**
 * Where WebSockets come from: the `ws` package in Node (which can listen), the browser's own `WebSocket`
 * (which cannot). The transport is the same on both.
 */
export interface WebSocketRuntime {
  /** Opens a client WebSocket. */
  connect(url: string, settings: WebSocketClientSettings): WebSocketLike;
  /** Listens (a server-side runtime only). */
  listen?(
    at: WebSocketTarget,
    settings: WebSocketListenSettings,
    hooks: WebSocketListenerHooks,
  ): Promise<StreamListener>;
}

/** What a client WebSocket is opened with. */
export interface WebSocketClientSettings {
  readonly maxMessageBytes: number;
  readonly connectTimeoutMs: number;
  readonly tls?: WebSocketTls;
}

/** What a listener is opened with. */
export interface WebSocketListenSettings extends WebSocketClientSettings {
  readonly secure: boolean;
  readonly handshakeTimeoutMs: number;
  readonly maxConnections: number;
  /** An existing HTTP(S) server to take upgrades from, instead of a server of its own (Node's `http.Server`). */
  readonly server?: unknown;
}

/** How a `WebSocketTransport` behaves: every stream transport option (`ConnectionOptions`), and these. */
export interface WebSocketTransportOptions extends ConnectionOptions {
  /**
   * Route `WSS` hops and open `wss://` URLs; listeners speak TLS (with `tls` or an https `server`).
   * Default false: `WS` hops, `ws://`.
   */
  readonly secure?: boolean;
  /** TLS material (Node): a listener's certificate and key, a client's extra trusted CAs. */
  readonly tls?: WebSocketTls;
  /** An existing `http.Server` or `https.Server` whose upgrades a listener takes (Node). */
  readonly server?: unknown;
  /** Where WebSockets come from. Default: `WebSocketTransport.defaultRuntime`. */
  readonly runtime?: WebSocketRuntime;
}

/** The browser's own WebSocket, when there is one: a runtime that connects and cannot listen. */
export const browserWebSocketRuntime: WebSocketRuntime = {
  connect(url) {
    const Native = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
    if (Native === undefined) {
      throw new TransportError('CONNECT_FAILED', 'this runtime has no WebSocket (give a runtime option)');
    }
    return new Native(url);
  },
};

/**
 * The WebSocket transport of a node: a peer of `TcpTransport` that carries the same byte stream (preamble,
 * frames, PING/PONG) in binary WebSocket messages, with the same limits, timeouts, backpressure and
 * least-privilege defaults. It routes `WS` hops (`ws#127.0.0.1:4000/sealroute`), or `WSS` ones when `secure`.
 * In Node it listens too (on a port of its own or an existing HTTP(S) server), so a hub can take browsers over
 * WebSocket and other nodes over TCP at once and route between them; in a browser it only connects.
 */
export class WebSocketTransport extends StreamTransport {
  /** Where WebSockets come from unless an option says: the `ws` package under Node, the browser's own there. */
  static defaultRuntime: WebSocketRuntime = browserWebSocketRuntime;

  private readonly runtime: WebSocketRuntime;
  private readonly secure: boolean;
  private readonly tls: WebSocketTls | undefined;
  private readonly server: unknown;

  private constructor(host: TransportHost, options: WebSocketTransportOptions) {
    const { secure = false, tls, server, runtime, ...connection } = options;
    super(
      host,
      secure ? WSS : WS,
      secure ? 'wss' : 'ws',
      resolveConnectionOptions(connection, 'WebSocketTransportOptions'),
    );
    this.secure = secure;
    this.tls = tls;
    this.server = server;
    this.runtime = runtime ?? WebSocketTransport.defaultRuntime;
  }

  /**
   * Starts a WebSocket transport on the node of `owner` (a context or the node) and makes it the router of
   * `WS` (or `WSS`) addresses. Rejects with `NodeError` `ADDRESS_IN_USE` if the node already routes them.
   */
  static async create(
    owner: Context | NodeRuntime,
    options: WebSocketTransportOptions = {},
  ): Promise<WebSocketTransport> {
    const transport = new WebSocketTransport(transportHost(owner), options);
    await transport.register();
    return transport;
  }

  protected parseRemote(remote: string): { key: string; dial: () => ByteStream } {
    const target = parseWebSocketTarget(remote);
    const settings = {
      maxMessageBytes: WEBSOCKET_STREAM_LIMITS.maxMessageBytes,
      connectTimeoutMs: this.options.connectTimeoutMs,
      tls: this.tls,
    };
    return {
      key: formatWebSocketTarget(target),
      dial: () => new WebSocketStream(this.runtime.connect(webSocketUrl(target, this.secure), settings)),
    };
  }

  protected async bind(address: string, gate: ConnectionGate): Promise<StreamListener> {
    const at = parseWebSocketTarget(address, true);
    if (this.runtime.listen === undefined) {
      throw new TransportError('LISTEN_FAILED', 'this WebSocket runtime cannot listen (a browser cannot)');
    }
    return this.runtime.listen(
      at,
      {
        secure: this.secure,
        tls: this.tls,
        server: this.server,
        maxMessageBytes: WEBSOCKET_STREAM_LIMITS.maxMessageBytes,
        connectTimeoutMs: this.options.connectTimeoutMs,
        handshakeTimeoutMs: this.options.handshakeTimeoutMs,
        maxConnections: this.options.maxConnectionsPerListener,
      },
      {
        gate,
        accept: (socket, remote, admission) => this.accept(new WebSocketStream(socket), remote, admission),
        refuse: (listener, remote, reason) => this.refuse(listener, remote, reason),
      },
    );
  }
}
