import type { Address, AddressType } from '../core/address';
import { originOf, type LocalMessage, type TransportOrigin } from '../core/message';
import type { TransportHost } from '../node/transport-host';
import type { TransportError } from './errors';

/**
 * A way between nodes: TCP, WebSocket, a broker. A transport routes one address type (`[TCP, 'host:port']`,
 * `[WS, 'host:port/path']`): a message whose next hop is of that type leaves through one of its connections,
 * each a worker at a local address of its own. It reaches the node only through a `TransportHost`; the
 * node reaches it only through the function `routeTransport` registers. See docs/PROTOCOL.md for the bytes.
 */
export interface Transport {
  /** The address type it routes. */
  readonly type: AddressType;
  /** A short name for logs and worker addresses (`tcp`, `ws`). */
  readonly name: string;
  /**
   * Whether a message that came from outside this node may leave through it, making the node connect on a
   * peer's behalf (`relayTransportMessages`). Replies along the way a message came never need it.
   */
  readonly relaysTransportMessages: boolean;
  /**
   * Resolves a hop of this transport's type (its value, `host:port`) to the local address of the connection
   * that carries messages there, made on first use: messages queue in its mailbox while it connects. Throws
   * `TransportError` (`INVALID_ADDRESS`, `LIMIT_REACHED`, `TRANSPORT_STOPPED`).
   */
  connectionFor(hop: string): Address;
  /** Listens on an address of its kind; resolves with the bound one. */
  listen(address?: string): Promise<string>;
  /** The bound address of every listener. */
  listenAddresses(): string[];
  /** Stops accepting on a listener (its connections stay open). */
  stopListening(bound: string): Promise<void>;
  /** The connection to `remote`, made if there is none, once open: resolves with its local address. */
  connect(remote: string): Promise<Address>;
  /** A connection by its local address, or an outgoing one by its remote. */
  connection(which: Address | string): TransportConnection | undefined;
  /** Every live connection. */
  connections(): TransportConnection[];
  /** Closes a connection gracefully, if there is one. */
  disconnect(which: Address | string): Promise<void>;
  /** Closes listeners and connections; its address type is no longer routed. The node's stop does this too. */
  stop(): Promise<void>;
}

/** One connection of a transport, as its owner sees it. */
export interface TransportConnection {
  /** The local address of the connection's worker. */
  readonly address: Address;
  /** The peer, as the transport names it (`host:port`). */
  readonly remote: string;
  /** True for a connection this node made; false for one a listener accepted. */
  readonly outgoing: boolean;
  readonly isOpen: boolean;
  /** See `TransportOrigin.vouch`. */
  readonly isVouched: boolean;
  vouch(): void;
  /** Resolves once open; rejects with `CONNECT_FAILED` if it closes before. */
  opened(): Promise<void>;
  /** Resolves with the reason once closed (never rejects). */
  closed(): Promise<TransportError>;
  /** Closes gracefully (queued bytes flushed, within a timeout). */
  close(): Promise<void>;
}

/** What a connection puts in `localInfo[TRANSPORT_INFO]` of every message it receives. */
export interface ConnectionInfo extends TransportOrigin {
  /** The local address of the connection's worker (also the first hop of the message's return route). */
  readonly connection: Address;
  /** The peer, as the transport names it. */
  readonly remote: string;
}

/**
 * Registers `transport` as the router of its address type on `host`'s node, and returns what undoes it.
 * Every message whose next hop is of that type comes here; the hop is resolved to a connection and replaced
 * by the connection's address, and the node delivers it there. The node's relay policy is applied here, once
 * for every transport: a message from outside (a connection, a secure channel) makes the node connect
 * nowhere unless the transport relays (`relaysTransportMessages`), so no peer can pivot through it.
 * Throws `NodeError` `ADDRESS_IN_USE` if the node already has a transport of that type.
 */
export function routeTransport(host: TransportHost, transport: Transport): () => void {
  return host.routeAddressType(transport.type, transport.name, {
    // The connection it hands a message to takes parts or gets them joined (`Router.dispatch`).
    takesByteParts: true,
    deliver(message: LocalMessage): Promise<void> | undefined {
      const next = message.onwardRoute.nextOrThrow();
      const origin = originOf(message);
      if (origin !== undefined && !transport.relaysTransportMessages) {
        host.refuse(
          message,
          `this node does not relay messages from outside (${origin.toString()}) to ${next.key} (relayTransportMessages is off)`,
        );
        return undefined;
      }
      let exit: Address;
      try {
        exit = transport.connectionFor(next.value);
      } catch (err) {
        const code = (err as TransportError).code === 'INVALID_ADDRESS' ? 'INVALID_ADDRESS' : 'UNREACHABLE';
        host.undeliverable(message, (err as Error).message, { code, cause: err });
        return undefined;
      }
      // Relaying was asked for: the connection takes the message, and replies may come back the same way.
      if (origin !== undefined) host.join(origin.last.producer, exit);
      return host.forward(
        message.withRoutes(message.onwardRoute.stepForward().prepend(exit), message.returnRoute),
      );
    },
  });
}
