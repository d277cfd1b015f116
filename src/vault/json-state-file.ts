import { writeFileAtomic } from './atomic-file';
import type { FileLock } from './file-lock';

/**
 * A state table kept as one JSON file under a lock (`<path>.lock`), replaced atomically (temp file, fsync,
 * rename, fsync of the directory) on every change, so that a crash leaves the previous or the next table,
 * never a mixture. Writes are coalesced: at most one is in flight, and `save` resolves once a write that
 * includes the caller's change is durable. The hub's forwarder table and an authority's member table are
 * such files; each reads and checks its own format.
 */
export class JsonStateFile<State extends object> {
  private writing: Promise<void> | undefined;
  private dirty = false;
  private snapshot: (() => State) | undefined;

  protected constructor(
    readonly path: string,
    private readonly lock: FileLock,
    /** Written first in the file: what it is and which version of that. */
    private readonly header: { readonly format: string; readonly version: number },
  ) {}

  /** Writes what `snapshot()` returns; resolves once a write begun after this call is durable. */
  save(snapshot: () => State): Promise<void> {
    this.snapshot = snapshot;
    this.dirty = true;
    this.writing ??= this.drain();
    return this.writing;
  }

  /** Waits for pending writes, then releases the lock. */
  async close(): Promise<void> {
    await this.writing?.catch(() => undefined);
    await this.lock.release();
  }

  private async drain(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        const json = JSON.stringify({ ...this.header, ...this.snapshot!() });
        await writeFileAtomic(this.path, new TextEncoder().encode(json));
      }
    } finally {
      this.writing = undefined;
    }
  }
}
