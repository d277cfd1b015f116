import { inspect } from 'node:util';
import * as primitives from './primitives';
import type { GenerateKeyOptions, HashAlgorithm, KeyId, KeyInfo, KeyType, Vault } from './vault';

/**
 * What every vault shares: the stateless primitives (hash, HKDF, AEAD, verify), which use no stored secret.
 * Implementations add key storage: generate, list, public key, DH, sign, delete.
 */
export abstract class StatelessVault implements Vault {
  abstract generateKey(type: KeyType, options?: GenerateKeyOptions): Promise<KeyId>;
  abstract listKeys(): Promise<readonly KeyInfo[]>;
  abstract publicKey(id: KeyId): Promise<Uint8Array>;
  abstract dh(id: KeyId, peerPublicKey: Uint8Array): Promise<Uint8Array>;
  abstract sign(id: KeyId, data: Uint8Array): Promise<Uint8Array>;
  abstract deleteKey(id: KeyId): Promise<void>;

  /** The public facts a printout may show; implementations add theirs (never a secret). */
  protected describe(): Record<string, unknown> {
    return {};
  }

  /** What `JSON.stringify` and loggers (pino) show: the vault's kind and public facts, never a key. */
  toJSON(): Record<string, unknown> {
    return { type: this.constructor.name, ...this.describe() };
  }

  /** What `console.log` and `util.inspect` show: the same public facts. */
  [inspect.custom](): string {
    return `${this.constructor.name} ${JSON.stringify(this.describe())}`;
  }

  verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
    return primitives.verify(publicKey, data, signature);
  }

  hash(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array {
    return primitives.hash(algorithm, data);
  }
}
