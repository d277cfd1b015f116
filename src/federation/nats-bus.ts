import { connect, type NodeConnectionOptions } from '@nats-io/transport-node';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import { FederationError } from './errors';

/**
 * The little of NATS that a federation uses, behind an interface so that tests can put faults in between
 * (drop, delay, cut) and so that the rest of src/federation never sees the client library. `connectNats`
 * is the real one, on the NATS project's maintained Node client (`@nats-io/transport-node`, `@nats-io/kv`).
 */
export interface FederationBus {
  /** Publishes on core NATS (at most once: a frame may be lost, which the federation counts). */
  publish(subject: string, data: Uint8Array): void;
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

/** One record of the bucket. */
export interface NameEntry {
  readonly key: string;
  /** Undefined for a deletion. */
  readonly value: Uint8Array | undefined;
  readonly revision: number;
}

/** The bucket of forwarder names: compare-and-swap on revisions, and a watch of changes. */
export interface NameStore {
  get(key: string): Promise<NameEntry | undefined>;
  /** Writes a key that does not exist (or was deleted); `NameConflict` if it exists. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Replaces the value at `revision`; `NameConflict` if the key moved on since. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  /** Deletes the key if it is still at `revision`. */
  delete(key: string, revision: number): Promise<void>;
  /** Calls `onEntry` with every current record, then every change; stops with `stop()`. */
  watch(onEntry: (entry: NameEntry) => void): Promise<{ stop(): void }>;
}

/** A compare-and-swap lost: the key exists (create) or changed (update). */
export class NameConflict extends Error {
  override readonly name = 'NameConflict';
}

/** What `connectNats` needs: where the servers are, and how to authenticate (see docs/federation.md). */
export interface NatsConnectOptions {
  /** The servers, e.g. `['nats://10.0.0.1:4222', ...]` (several: the client fails over among them). */
  readonly servers: readonly string[];
  /** Further options of `@nats-io/transport-node`'s `connect` (user and password, nkeys, TLS, ...). */
  readonly client?: Omit<NodeConnectionOptions, 'servers'>;
}

// The package's types for its core (`@nats-io/nats-core`) do not resolve under this project's
// `moduleResolution: node`; the connection's type is taken from `connect` instead.
type NatsConnection = Awaited<ReturnType<typeof connect>>;

// JetStream's API error for a write whose expected last sequence did not match (a lost compare-and-swap).
const WRONG_LAST_SEQUENCE = 10071;

function isConflict(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: unknown } } | undefined;
  return e?.code === WRONG_LAST_SEQUENCE || e?.api_error?.err_code === WRONG_LAST_SEQUENCE;
}

/** Connects to NATS with the maintained Node client. Rejects with `FederationError` `NATS_UNAVAILABLE`. */
export async function connectNats(options: NatsConnectOptions): Promise<FederationBus> {
  if (options.servers.length === 0 || options.servers.some((s) => typeof s !== 'string' || s === '')) {
    // An empty server list would make the client try localhost:4222, which is somebody else's NATS.
    throw new FederationError('INVALID_OPTIONS', 'nats.servers must list at least one server URL');
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
  return new NatsBus(nc);
}

class NatsBus implements FederationBus {
  private readonly listeners: ((event: BusEvent) => void)[] = [];

  constructor(private readonly nc: NatsConnection) {
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

  publish(subject: string, data: Uint8Array): void {
    this.nc.publish(subject, data);
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
    let kv: KV;
    try {
      kv = await new Kvm(this.nc).create(bucket, {
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
    return new KvNameStore(kv);
  }

  onEvent(listener: (event: BusEvent) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch(() => this.nc.close());
  }
}

class KvNameStore implements NameStore {
  constructor(private readonly kv: KV) {}

  async get(key: string): Promise<NameEntry | undefined> {
    const entry = await this.kv.get(key);
    if (entry === null || entry.operation !== 'PUT') return undefined;
    return { key, value: entry.value, revision: entry.revision };
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    try {
      return await this.kv.create(key, value);
    } catch (err) {
      if (isConflict(err)) throw new NameConflict(`${key} exists`, { cause: err });
      throw err;
    }
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    try {
      return await this.kv.update(key, value, revision);
    } catch (err) {
      if (isConflict(err))
        throw new NameConflict(`${key} changed since revision ${revision}`, { cause: err });
      throw err;
    }
  }

  async delete(key: string, revision: number): Promise<void> {
    try {
      await this.kv.delete(key, { previousSeq: revision });
    } catch (err) {
      if (isConflict(err))
        throw new NameConflict(`${key} changed since revision ${revision}`, { cause: err });
      throw err;
    }
  }

  async watch(onEntry: (entry: NameEntry) => void): Promise<{ stop(): void }> {
    const iterator = await this.kv.watch();
    void (async () => {
      for await (const e of iterator as AsyncIterable<KvWatchEntry>) {
        onEntry({ key: e.key, value: e.operation === 'PUT' ? e.value : undefined, revision: e.revision });
      }
    })().catch(() => undefined);
    return { stop: () => iterator.stop() };
  }
}
