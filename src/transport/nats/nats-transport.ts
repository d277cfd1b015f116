import { NATS } from '../../core/address';
import type { Context } from '../../node/context';
import type { NodeRuntime } from '../../node/node-runtime';
import { transportHost, type TransportHost } from '../../node/transport-host';
import type { ByteStream } from '../byte-stream';
import type { ConnectionGate } from '../connection-gate';
import { resolveConnectionOptions, type ConnectionOptions } from '../connection-options';
import { TransportError } from '../errors';
import { StreamTransport, type StreamListener } from '../stream-transport';
import { connectNatsLink, type NatsLink, type NatsLinkOptions } from './nats-link';
import { NatsPort, isNatsSubject } from './nats-port';

/** How a `NatsTransport` behaves: the options of every stream transport, where NATS is, and the node's subject. */
export interface NatsTransportOptions extends ConnectionOptions {
  /** Where NATS is (servers, credentials, TLS), or a ready link (tests count its subscriptions). */
  readonly nats: NatsLinkOptions | NatsLink;
  /**
   * The node's own subject, `nats#<subject>` in routes: the only one it subscribes to. Others reach it
   * there; its own streams' answers come there too. NATS permissions should let only this node subscribe
   * to it (docs/federation.md).
   */
  readonly subject: string;
}

/**
 * The NATS transport of a node, in the spirit of Moleculer's NATS transporter: a node is reachable at its
 * subject (`[NATS, 'sealroute.node.bob']`), and a message whose next hop is a subject goes out over a
 * stream to that node. Streams are carried in segments on the two nodes' subjects (`NatsStream`), and run
 * the framing, limits and defences of every stream transport, as TCP and WebSocket do; routes may mix
 * their hops freely.
 */
export class NatsTransport extends StreamTransport {
  private constructor(
    host: TransportHost,
    options: Required<ConnectionOptions>,
    private readonly link: NatsLink,
    private readonly ownsLink: boolean,
    private readonly port: NatsPort,
  ) {
    super(host, NATS, 'nats', options);
    this.ports.set(port.subject, port);
  }

  /** The node's subjects: its own (where its streams' answers come), and any further one it listens on. */
  private readonly ports = new Map<string, NatsPort>();

  /**
   * Connects to NATS, subscribes to `options.subject` and makes the transport the router of `NATS` addresses
   * on the node of `owner`. Rejects with `TransportError` (`INVALID_ADDRESS`, `CONNECT_FAILED`) or `NodeError`
   * `ADDRESS_IN_USE`.
   */
  static async create(owner: Context | NodeRuntime, options: NatsTransportOptions): Promise<NatsTransport> {
    const { nats, subject, ...rest } = options;
    const settings = resolveConnectionOptions(rest, 'NatsTransportOptions');
    if (typeof subject !== 'string' || !isNatsSubject(subject)) {
      throw new TransportError('INVALID_ADDRESS', `not a NATS subject without wildcards: ${String(subject)}`);
    }
    const ownsLink = !isLink(nats);
    const link = isLink(nats) ? nats : await connectNatsLink(nats);
    const transport = new NatsTransport(
      transportHost(owner),
      settings,
      link,
      ownsLink,
      new NatsPort(link, subject),
    );
    try {
      await transport.register();
    } catch (err) {
      await transport.released();
      throw err;
    }
    return transport;
  }

  /** The node's subject. */
  get subject(): string {
    return this.port.subject;
  }

  /** Listens at the node's own subject, unless told another (which it then subscribes to as well). */
  override listen(address: string = this.port.subject): Promise<string> {
    return super.listen(address);
  }

  protected parseRemote(remote: string): { key: string; dial: () => ByteStream } {
    if (!isNatsSubject(remote)) {
      throw new TransportError('INVALID_ADDRESS', `not a NATS subject without wildcards: ${remote}`);
    }
    return { key: remote, dial: () => this.port.dial(remote) };
  }

  /** Listens at the node's subject, or at a further subject of its own (subscribed to from now on). */
  protected async bind(address: string, gate: ConnectionGate): Promise<StreamListener> {
    if (!isNatsSubject(address)) {
      const why = `cannot listen on ${address}: not a NATS subject without wildcards`;
      throw new TransportError('INVALID_ADDRESS', why);
    }
    let port = this.ports.get(address);
    if (port === undefined) {
      port = new NatsPort(this.link, address);
      this.ports.set(address, port);
    }
    port.listen(gate, {
      accept: (stream, remote, admission) => this.accept(stream, remote, admission),
      refuse: (listener, remote, reason) => this.refuse(listener, remote, reason),
    });
    // Listening once the server has the subscription: a stream opened right after must not go unheard.
    await port.subscribed.catch((err: unknown) => {
      throw new TransportError('LISTEN_FAILED', `NATS did not confirm the subscription to ${address}`, {
        cause: err,
      });
    });
    return port;
  }

  protected override async released(): Promise<void> {
    for (const port of this.ports.values()) port.stop();
    if (this.ownsLink) await this.link.close().catch(() => undefined);
  }
}

function isLink(value: NatsLinkOptions | NatsLink): value is NatsLink {
  return typeof (value as NatsLink).publish === 'function';
}
