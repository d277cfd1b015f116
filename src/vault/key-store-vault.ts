import type { StoredKey } from './key-records';
import { KeyStore, entryFromSecret, keyInfo, wipeEntry, type KeyEntry } from './key-store';
import { StatelessVault } from './stateless-vault';
import type { GenerateKeyOptions, KeyId, KeyInfo, KeyType } from './vault';

/**
 * A vault whose keys live in a `KeyStore` in this process: the key operations every such vault shares
 * (in memory, in a file, in IndexedDB). Subclasses say how keys are made and deleted, and may refuse every
 * operation once closed (`checkOpen`).
 */
export abstract class KeyStoreVault extends StatelessVault {
  // A #private field: no spread, Object.entries, structuredClone or printout reaches the keys.
  readonly #keys = new KeyStore();

  /** The keys, for subclasses (a getter, so that no printout of the vault lists them). */
  protected get keys(): KeyStore {
    return this.#keys;
  }

  /** Throws if the vault may no longer use its keys (it was closed). Nothing by default. */
  protected checkOpen(): void {}

  async listKeys(): Promise<readonly KeyInfo[]> {
    this.checkOpen();
    return this.#keys.all().map(keyInfo);
  }

  async publicKey(id: KeyId): Promise<Uint8Array> {
    this.checkOpen();
    return this.#keys.get(id).publicKey.slice();
  }

  async dh(id: KeyId, peerPublicKey: Uint8Array): Promise<Uint8Array> {
    this.checkOpen();
    return this.#keys.dh(id, peerPublicKey);
  }

  async sign(id: KeyId, data: Uint8Array): Promise<Uint8Array> {
    this.checkOpen();
    return this.#keys.sign(id, data);
  }
}

/**
 * A `KeyStoreVault` that keeps its non-ephemeral keys in storage (a file, an IndexedDB record): each change
 * is written first, one write at a time, and takes effect only once written.
 */
export abstract class PersistentKeyStoreVault extends KeyStoreVault {
  private queue: Promise<unknown> = Promise.resolve();

  /** Writes storage holding exactly the non-ephemeral keys among `entries`. */
  protected abstract persist(entries: readonly KeyEntry[]): Promise<void>;

  /** Takes the keys storage held when it was opened (copies: the caller wipes `stored`). */
  protected adopt(stored: readonly StoredKey[]): void {
    for (const key of stored) this.keys.add(entryFromSecret(key.id, key.type, key.secret, false));
  }

  async generateKey(type: KeyType, options?: GenerateKeyOptions): Promise<KeyId> {
    this.checkOpen();
    if (options?.ephemeral ?? false) {
      const entry = this.keys.create(type, true);
      this.keys.add(entry);
      return entry.id;
    }
    return this.serially(async () => {
      const entry = this.keys.create(type, false);
      try {
        await this.persist([...this.keys.all(), entry]);
      } catch (error) {
        wipeEntry(entry);
        throw error;
      }
      this.keys.add(entry);
      return entry.id;
    });
  }

  async deleteKey(id: KeyId): Promise<void> {
    this.checkOpen();
    if (!this.keys.has(id)) return;
    if (this.keys.get(id).ephemeral) {
      this.keys.delete(id);
      return;
    }
    await this.serially(async () => {
      if (!this.keys.has(id)) return; // deleted by an earlier queued call
      await this.persist(this.keys.all().filter((key) => key.id !== id));
      this.keys.delete(id);
    });
  }

  /** Resolves once every queued write has settled (for `close`). */
  protected async writesSettled(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  /** Runs `task` after every earlier queued write, so writes never interleave and each sees the last state. */
  private serially<T>(task: () => Promise<T>): Promise<T> {
    // No closed check here: closing stops new calls but lets the ones already queued finish first.
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
