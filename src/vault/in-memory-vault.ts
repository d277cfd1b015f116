import { KeyStoreVault } from './key-store-vault';
import { sodiumReady } from '../crypto/sodium';
import type { GenerateKeyOptions, KeyId, KeyType } from './vault';

/**
 * A vault that holds its keys in process memory only (libsodium for X25519/Ed25519, see `KeyStore`); every key
 * is gone when the process ends. For tests, short-lived nodes, and ephemeral keys.
 *
 * Key ids are 128 random bits in hex (see `newKeyId`). Private keys never leave: `deleteKey` wipes them.
 */
export class InMemoryVault extends KeyStoreVault {
  private constructor() {
    super();
  }

  /** What printouts show: the key count, never a key. */
  protected override describe(): Record<string, unknown> {
    return { keys: this.keys.size };
  }

  /** A new, empty vault, once libsodium is ready. */
  static async create(): Promise<InMemoryVault> {
    await sodiumReady();
    return new InMemoryVault();
  }

  async generateKey(type: KeyType, options?: GenerateKeyOptions): Promise<KeyId> {
    const entry = this.keys.create(type, options?.ephemeral ?? false);
    this.keys.add(entry);
    return entry.id;
  }

  async deleteKey(id: KeyId): Promise<void> {
    this.keys.delete(id);
  }

  /** Wipes and forgets every key. The vault stays usable (empty). */
  async clear(): Promise<void> {
    this.keys.clear();
  }
}
