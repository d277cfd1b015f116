import { KeyStore, keyInfo } from './key-store';
import * as primitives from './primitives';
import { sodiumReady } from './sodium';
import type {
  AeadAlgorithm,
  GenerateKeyOptions,
  HashAlgorithm,
  KeyId,
  KeyInfo,
  KeyType,
  Vault,
} from './vault';

/**
 * A vault that holds its keys in process memory only (libsodium for X25519/Ed25519, see `KeyStore`); every key
 * is gone when the process ends. For tests, short-lived nodes, and ephemeral keys.
 *
 * Key ids are 128 random bits in hex (see `newKeyId`). Private keys never leave: `deleteKey` wipes them.
 */
export class InMemoryVault implements Vault {
  private readonly keys = new KeyStore();

  private constructor() {}

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

  async listKeys(): Promise<readonly KeyInfo[]> {
    return this.keys.all().map(keyInfo);
  }

  async publicKey(id: KeyId): Promise<Uint8Array> {
    return this.keys.get(id).publicKey.slice();
  }

  async dh(id: KeyId, peerPublicKey: Uint8Array): Promise<Uint8Array> {
    return this.keys.dh(id, peerPublicKey);
  }

  async sign(id: KeyId, data: Uint8Array): Promise<Uint8Array> {
    return this.keys.sign(id, data);
  }

  verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
    return primitives.verify(publicKey, data, signature);
  }

  async deleteKey(id: KeyId): Promise<void> {
    this.keys.delete(id);
  }

  /** Wipes and forgets every key. The vault stays usable (empty). */
  async clear(): Promise<void> {
    this.keys.clear();
  }

  hash(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array {
    return primitives.hash(algorithm, data);
  }

  hkdf(
    algorithm: HashAlgorithm,
    salt: Uint8Array,
    ikm: Uint8Array,
    info: Uint8Array,
    length: number,
  ): Uint8Array {
    return primitives.hkdf(algorithm, salt, ikm, info, length);
  }

  aeadEncrypt(
    algorithm: AeadAlgorithm,
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    ad: Uint8Array,
  ): Uint8Array {
    return primitives.aeadEncrypt(algorithm, key, nonce, plaintext, ad);
  }

  aeadDecrypt(
    algorithm: AeadAlgorithm,
    key: Uint8Array,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    ad: Uint8Array,
  ): Uint8Array {
    return primitives.aeadDecrypt(algorithm, key, nonce, ciphertext, ad);
  }
}
