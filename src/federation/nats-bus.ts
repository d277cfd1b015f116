import { connect, type NodeConnectionOptions } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, type ConsumerMessages, type JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
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

/**
 * The bucket of forwarder names: compare-and-swap on revisions, and a watch of changes. Every call may
 * reject with `NameStoreUnavailable` while NATS cannot answer (a reconnect, a stream leader election).
 */
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

/**
 * NATS could not answer a call of the bucket now, and may later: the request timed out (it may have been
 * written to a connection that died, or the stream has no leader yet), or nothing answers the bucket's
 * subject (its stream is electing a leader). A write that timed out may have happened: read before retrying.
 */
export class NameStoreUnavailable extends Error {
  override readonly name = 'NameStoreUnavailable';
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

// The watch of the bucket pulls with this expiry; the server sends an idle heartbeat every half of it, and
// two missed make the client recreate the watch's consumer (it lived on a server that may have died).
// `kv.watch` of @nats-io/kv uses a push consumer with 30 s heartbeats: a watch whose consumer was on a
// killed server came back after a minute, and every hub routed to stale records until then.
const WATCH_EXPIRES_MS = 2_000;
const WATCH_RESTART_MS = 250;

// JetStream's API error for a write whose expected last sequence did not match (a lost compare-and-swap).
const WRONG_LAST_SEQUENCE = 10071;

function isConflict(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: unknown } } | undefined;
  return e?.code === WRONG_LAST_SEQUENCE || e?.api_error?.err_code === WRONG_LAST_SEQUENCE;
}

// The client's errors (told apart by name) for a call that NATS may answer later: no answer in time, no
// responder (a stream without a leader has none), a request cut by a disconnect.
const TRANSIENT = new Set([
  'TimeoutError',
  'NoResponders',
  'JetStreamNotEnabled',
  'RequestError',
  'ConnectionError',
]);

/** `err` as the bucket's error: `NameConflict`, `NameStoreUnavailable`, or as it is. */
function storeError(err: unknown, key: string, conflict: string): Error {
  if (isConflict(err)) return new NameConflict(`${key} ${conflict}`, { cause: err });
  if (err instanceof Error && TRANSIENT.has(err.name)) {
    return new NameStoreUnavailable(`the bucket did not answer for ${key}: ${err.message}`, { cause: err });
  }
  return err as Error;
}

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

  constructor(
    private readonly nc: NatsConnection,
    private readonly kvTimeoutMs: number,
  ) {
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

class KvNameStore implements NameStore {
  constructor(
    private readonly kv: KV,
    private readonly js: JetStreamClient,
    private readonly bucket: string,
  ) {}

  async get(key: string): Promise<NameEntry | undefined> {
    let entry: Awaited<ReturnType<KV['get']>>;
    try {
      entry = await this.kv.get(key);
    } catch (err) {
      throw storeError(err, key, 'could not be read');
    }
    if (entry === null || entry.operation !== 'PUT') return undefined;
    return { key, value: entry.value, revision: entry.revision };
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    try {
      return await this.kv.create(key, value);
    } catch (err) {
      throw storeError(err, key, 'exists');
    }
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    try {
      return await this.kv.update(key, value, revision);
    } catch (err) {
      throw storeError(err, key, `changed since revision ${revision}`);
    }
  }

  async delete(key: string, revision: number): Promise<void> {
    try {
      await this.kv.delete(key, { previousSeq: revision });
    } catch (err) {
      throw storeError(err, key, `changed since revision ${revision}`);
    }
  }

  /**
   * An ordered consumer of the bucket's stream: the latest record of every name, then every change. It is
   * recreated by the client when its heartbeats stop, and by this watch if the client gives up on it.
   */
  async watch(onEntry: (entry: NameEntry) => void): Promise<{ stop(): void }> {
    const prefix = `$KV.${this.bucket}.`;
    let last = 0;
    let stopped = false;
    let messages: ConsumerMessages | undefined;
    const start = async (): Promise<void> => {
      const consumer = await this.js.consumers.get(`KV_${this.bucket}`, {
        filter_subjects: `${prefix}>`,
        ...(last === 0
          ? { deliver_policy: DeliverPolicy.LastPerSubject }
          : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: last + 1 }),
      });
      let lastSign = Date.now();
      const consumed = await consumer.consume({
        expires: WATCH_EXPIRES_MS,
        callback: (m) => {
          lastSign = Date.now();
          last = m.seq;
          const operation = m.headers?.get('KV-Operation') ?? 'PUT';
          const value = operation === 'PUT' || operation === '' ? m.data : undefined;
          onEntry({ key: m.subject.slice(prefix.length), value, revision: m.seq });
        },
      });
      messages = consumed;
      // A live consume shows signs every second (heartbeats, pulls): when they stop for long, the client
      // gave up on it without closing it (seen after a reconnect while the stream elected a leader: its
      // heartbeat monitor stayed off). Close it, and it starts again from the last revision.
      const watchdog = setInterval(() => {
        if (Date.now() - lastSign > 3 * WATCH_EXPIRES_MS) void consumed.close();
      }, WATCH_EXPIRES_MS);
      watchdog.unref();
      void consumed.closed().then(() => clearInterval(watchdog));
      void (async () => {
        for await (const status of consumed.status()) {
          lastSign = Date.now();
          // An idle heartbeat says what the consumer delivered: ahead of this watch, it missed records. Start
          // again from the last revision it had.
          if (status.type === 'heartbeat' && status.lastStreamSequence > last && !stopped) {
            void consumed.close();
            return;
          }
        }
      })().catch(() => undefined);
      void consumed.closed().then(() => {
        if (!stopped) void restart();
      });
    };
    const restart = async (): Promise<void> => {
      while (!stopped) {
        await new Promise((resolve) => setTimeout(resolve, WATCH_RESTART_MS));
        if (stopped) return;
        try {
          return await start();
        } catch {
          // NATS is not back yet: try again
        }
      }
    };
    await start();
    return {
      stop: () => {
        stopped = true;
        void messages?.close();
      },
    };
  }
}
