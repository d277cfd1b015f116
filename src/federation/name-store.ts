/* The bucket of forwarder names, as the federation sees it: records, compare-and-swap, a watch. */

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
