import type { Socket } from 'node:net';
import { TCP } from '../../core/address';
import type { Context } from '../../node/context';
import type { NodeRuntime } from '../../node/node-runtime';
import { transportHost, type TransportHost } from '../../node/transport-host';
import type { ByteStream } from '../byte-stream';
import type { Admission, ConnectionGate } from '../connection-gate';
import type { TransportError } from '../errors';
import {
  StreamTransport,
  type StreamListener,
  type StreamTransportEvents,
  type StreamTransportStats,
} from '../stream-transport';
import { formatHostPort, parseHostPort } from './host-port';
import { TcpListener } from './tcp-listener';
import { resolveTcpOptions, type TcpTransportOptions } from './tcp-options';
import { TcpStream } from './tcp-stream';

export type {
  ConnectionClosedEvent,
  ConnectionOpenedEvent,
  ConnectionRefusedEvent,
} from '../stream-transport';

/** Counters of a `TcpTransport`'s defences (each hit is also logged, throttled). */
export type TcpTransportStats = StreamTransportStats;

/** Events a `TcpTransport` emits. */
export type TcpTransportEvents = StreamTransportEvents;

/**
 * The TCP transport of a node. It routes every address of type `TCP` (`[TCP, 'host:port']`, at any
 * position of a route): a message whose next hop is one goes out over a connection to that host, made on
 * first use. Each connection is a worker at a local address; see `StreamConnection`. Listeners accept
 * connections from other nodes, within limits. Its framing, limits and defences are those of every stream
 * transport (`StreamTransport`); what is TCP's own is the socket.
 */
export class TcpTransport extends StreamTransport {
  private constructor(host: TransportHost, options: TcpTransportOptions) {
    super(host, TCP, 'tcp', resolveTcpOptions(options));
  }

  /**
   * Starts a TCP transport on the node of `owner` (a context or the node) and makes it the router of
   * `TCP` addresses. Rejects with `NodeError` `ADDRESS_IN_USE` if the node already has a TCP router.
   */
  static async create(
    owner: Context | NodeRuntime,
    options: TcpTransportOptions = {},
  ): Promise<TcpTransport> {
    const transport = new TcpTransport(transportHost(owner), options);
    await transport.register();
    return transport;
  }

  protected parseRemote(remote: string): { key: string; dial: () => ByteStream } {
    const target = parseHostPort(remote);
    return {
      key: formatHostPort(target.host, target.port),
      dial: () => TcpStream.dial(target.host, target.port),
    };
  }

  protected async bind(address: string, gate: ConnectionGate): Promise<StreamListener> {
    const at = parseHostPort(address, true);
    const listener = new TcpListener(
      {
        accept: (socket: Socket, remote: string, admission: Admission) =>
          this.accept(new TcpStream(socket), remote, admission),
        refuse: (bound: string, remote: string, reason: TransportError) => this.refuse(bound, remote, reason),
      },
      gate,
    );
    await listener.listen(at);
    return listener;
  }
}
