import { connect, type NodeConnectionOptions } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { FederationError } from './errors';
import { KvNameStore } from './kv-name-store';
import { publishRaw, rawProtocolOf, type RawProtocol } from '../transport/nats/raw-publish';
import { exactSplitPayloads } from '../transport/nats/split-payloads';
import type { NameStore } from './name-store';

export { NameConflict, NameStoreUnavailable, type NameEntry, type NameStore } from './name-store';

/**
 * The little of NATS that a federation uses, behind an interface so that tests can put faults in between
 * (drop, delay, cut) and so that the rest of src/federation never sees the client library. `connectNats`
 * is the real one, on the NATS project's maintained Node client (`@nats-io/transport-node`, `@nats-io/kv`).
 */
export interface FederationBus {
  /**
   * Publishes `data`, followed by `body` if given, as one message on core NATS (at most once: a frame may
   * be lost, which the federation counts). The body is passed apart so that a large one is not copied into
   * a new buffer with the head only to be copied again by the client; an implementation must send both.
   */
  publish(subject: string, data: Uint8Array, body?: Uint8Array): void;
  /** Subscribes to one subject; messages are handed to `onMessage` in order. */
  subscribe(subject: string, onMessage: (data: Uint8Array) => void): BusSubscription;
  /** Resolves once the server has everything published before (a round trip). */
  flush(): Promise<void>;
  /** The largest payload the server accepts, in bytes. */
  readonly maxPayload: number;
  /** Opens (creating it if needed) the key-value bucket of forwarder names. */
  names(bucket: string, options: NameBucketOptions): Promise<NameStore>;
  /** Connection events: disconnects, reconnects, slow consumers, errors. */
  onEvent(listener: (event: BusEvent) => void): void;
  /** Closes the connection (pending publishes are flushed first, bounded by the client). */
  close(): Promise<void>;
}

/** A subscription of a `FederationBus`. */
export interface BusSubscription {
  unsubscribe(): void;
}

/** What the bus reports about its connection. */
export interface BusEvent {
  readonly type: 'disconnect' | 'reconnect' | 'slowConsumer' | 'error' | 'close';
  /** For `slowConsumer`: messages the client had pending when it noticed. */
  readonly pending?: number;
  readonly detail?: string;
}

/** How the bucket of names is made when it does not exist yet. */
export interface NameBucketOptions {
  /** Copies kept by the NATS cluster (3 in production: one per server of a 3-node cluster). */
  readonly replicas: number;
  /** The bucket's size limit in bytes (bounds what a hub, or whoever holds its credentials, can store). */
  readonly maxBytes: number;
  /** The largest record, in bytes. */
  readonly maxValueSize: number;
}

/** What `connectNats` needs: where the servers are, and how to authenticate (see docs/federation.md). */
export interface NatsConnectOptions {
  /** The servers, e.g. `['nats://10.0.0.1:4222', ...]` (several: the client fails over among them). */
  readonly servers: readonly string[];
  /**
   * How long one call of the bucket waits for JetStream's answer (default `KV_TIMEOUT_MS`). The client's
   * own default, 5 s, was the whole budget of a registration after a NATS server died: a request written
   * to the connection just before it broke is never answered, and the next one, on the new connection, is
   * answered in a millisecond.
   */
  readonly kvTimeoutMs?: number;
  /** Further options of `@nats-io/transport-node`'s `connect` (user and password, nkeys, TLS, ...). */
  readonly client?: Omit<NodeConnectionOptions, 'servers'>;
}

// The package's types for its core (`@nats-io/nats-core`) do not resolve under this project's
// `moduleResolution: node`; the connection's type is taken from `connect` instead.
type NatsConnection = Awaited<ReturnType<typeof connect>>;

/** The default of `NatsConnectOptions.kvTimeoutMs`. */
export const KV_TIMEOUT_MS = 1_000;

/** Connects to NATS with the maintained Node client. Rejects with `FederationError` `NATS_UNAVAILABLE`. */
export async function connectNats(options: NatsConnectOptions): Promise<FederationBus> {
  if (options.servers.length === 0 || options.servers.some((s) => typeof s !== 'string' || s === '')) {
    // An empty server list would make the client try localhost:4222, which is somebody else's NATS.
    throw new FederationError('INVALID_OPTIONS', 'nats.servers must list at least one server URL');
  }
  const kvTimeoutMs = options.kvTimeoutMs ?? KV_TIMEOUT_MS;
  if (!Number.isInteger(kvTimeoutMs) || kvTimeoutMs < 10 || kvTimeoutMs > 600_000) {
    throw new FederationError('INVALID_OPTIONS', 'nats.kvTimeoutMs must be an integer of 10..600000');
  }
  let nc: NatsConnection;
  try {
    nc = await connect({
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 5_000,
      ...options.client,
      servers: [...options.servers],
    });
  } catch (err) {
    throw new FederationError('NATS_UNAVAILABLE', `cannot connect to NATS at ${options.servers.join(', ')}`, {
      cause: err,
    });
  }
  return new NatsBus(nc, kvTimeoutMs);
}

class NatsBus implements FederationBus {
  private readonly listeners: ((event: BusEvent) => void)[] = [];
  /** The client's protocol handler for `publishRaw` (undefined if its shape changed: `publish` copies). */
  private readonly raw: RawProtocol | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly kvTimeoutMs: number,
  ) {
    this.raw = rawProtocolOf(nc);
    // Frames from other hubs span socket reads: each gets one buffer of its size (the client's doubled).
    exactSplitPayloads(nc);
    void (async () => {
      for await (const status of nc.status()) {
        const event: BusEvent | undefined =
          status.type === 'disconnect' || status.type === 'reconnect' || status.type === 'close'
            ? { type: status.type }
            : status.type === 'slowConsumer'
              ? { type: 'slowConsumer', pending: status.pending }
              : status.type === 'error'
                ? { type: 'error', detail: String(status.error) }
                : undefined;
        if (event !== undefined) for (const listener of this.listeners) listener(event);
      }
    })().catch(() => undefined);
  }

  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  publish(subject: string, data: Uint8Array, body?: Uint8Array): void {
    const raw = this.raw;
    const open = raw !== undefined && !raw.noMorePublishing && !this.nc.isClosed();
    if (open && publishRaw(raw, subject, data, body, this.maxPayload)) return;
    this.nc.publish(subject, body === undefined ? data : Buffer.concat([data, body]));
  }

  subscribe(subject: string, onMessage: (data: Uint8Array) => void): BusSubscription {
    const sub = this.nc.subscribe(subject, {
      callback: (err: Error | null, msg: { data: Uint8Array }) => {
        if (err === null) onMessage(msg.data);
      },
    });
    return { unsubscribe: () => sub.unsubscribe() };
  }

  flush(): Promise<void> {
    return this.nc.flush();
  }

  async names(bucket: string, options: NameBucketOptions): Promise<NameStore> {
    const js = jetstream(this.nc, { timeout: this.kvTimeoutMs });
    let kv: KV;
    try {
      kv = await new Kvm(js).create(bucket, {
        history: 1,
        replicas: options.replicas,
        max_bytes: options.maxBytes,
        maxValueSize: options.maxValueSize,
      });
    } catch (err) {
      throw new FederationError('NATS_UNAVAILABLE', `cannot open the JetStream bucket ${bucket}`, {
        cause: err,
      });
    }
    return new KvNameStore(kv, js, bucket);
  }

  onEvent(listener: (event: BusEvent) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch(() => this.nc.close());
  }
}
