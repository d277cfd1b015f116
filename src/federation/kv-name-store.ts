import { DeliverPolicy, type ConsumerMessages, type JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { NameConflict, NameStoreUnavailable, type NameEntry, type NameStore } from './name-store';

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

/** The bucket of names on JetStream's key-value store (`@nats-io/kv`), with a watch of its own. */
export class KvNameStore implements NameStore {
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
