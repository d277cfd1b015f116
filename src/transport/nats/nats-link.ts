import { connect, type NodeConnectionOptions } from '@nats-io/transport-node';
import { TransportError } from '../errors';
import { publishRaw, rawProtocolOf } from './raw-publish';
import { exactSplitPayloads } from './split-payloads';

/**
 * The little of a NATS connection a node's NATS transport uses: publish to any subject, subscribe to one
 * (the node's own), flush. An interface so that tests can count what a node subscribes to.
 */
export interface NatsLink {
  publish(subject: string, data: Uint8Array): void;
  /** Subscribes to `subject`; segments are handed to `onData` in the order they came. */
  subscribe(subject: string, onData: (data: Uint8Array) => void): { unsubscribe(): void };
  /** Resolves once the server has everything published before. */
  flush(): Promise<void>;
  /** The largest payload the server takes. */
  readonly maxPayload: number;
  close(): Promise<void>;
}

/** Where NATS is, for `NatsTransport.create`. */
export interface NatsLinkOptions {
  /** Server URLs, e.g. `['nats://10.0.0.1:4222']`; several: the client fails over among them. */
  readonly servers: readonly string[];
  /** Further options of `@nats-io/transport-node`'s `connect` (credentials, TLS, `inboxPrefix`...). */
  readonly client?: Omit<NodeConnectionOptions, 'servers'>;
}

const EMPTY = new Uint8Array(0);

// The connection's type, taken from `connect`: `@nats-io/nats-core`'s types do not resolve here.
type NatsConnection = Awaited<ReturnType<typeof connect>>;

/** Connects to NATS. Rejects with `TransportError` `CONNECT_FAILED`, or `INVALID_ADDRESS` for no servers. */
export async function connectNatsLink(options: NatsLinkOptions): Promise<NatsLink> {
  if (options.servers.length === 0 || options.servers.some((s) => typeof s !== 'string' || s === '')) {
    // An empty list would make the client try localhost:4222: somebody else's NATS.
    throw new TransportError('INVALID_ADDRESS', 'nats.servers must list at least one server URL');
  }
  let nc: NatsConnection;
  try {
    nc = await connect({ maxReconnectAttempts: -1, ...options.client, servers: [...options.servers] });
  } catch (err) {
    const at = options.servers.join(', ');
    throw new TransportError('CONNECT_FAILED', `cannot connect to NATS at ${at}`, { cause: err });
  }
  // Segments span socket reads: each gets one buffer of its size (the client grows one by doubling).
  exactSplitPayloads(nc);
  const raw = rawProtocolOf(nc);
  const maxPayload = (): number => nc.info?.max_payload ?? 1024 * 1024;
  return {
    // A large segment is written where it lies; the client's own publish copies it (and throws its errors).
    publish: (subject, data) => {
      const open = raw !== undefined && !raw.noMorePublishing && !nc.isClosed();
      if (!(open && publishRaw(raw, subject, EMPTY, data, maxPayload()))) nc.publish(subject, data);
    },
    subscribe: (subject, onData) => {
      const sub = nc.subscribe(subject, {
        callback: (err: Error | null, msg: { data: Uint8Array }) => err === null && onData(msg.data),
      });
      return { unsubscribe: () => sub.unsubscribe() };
    },
    flush: () => nc.flush(),
    get maxPayload() {
      return maxPayload();
    },
    close: async () => {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
}
