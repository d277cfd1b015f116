/**
 * The Vault interface: every operation on secret key material goes through it. Callers hold opaque key
 * ids; private keys never leave a vault through this interface.
 */
import type { AeadAlgorithm, HashAlgorithm } from '../crypto';

/** An opaque handle to a key held in a vault. */
export type KeyId = string;

/** The kinds of key a vault generates. X25519 for Noise (static and ephemeral), Ed25519 for identities. */
export type KeyType = 'x25519' | 'ed25519';

/** What `generateKey` may be told. */
export interface GenerateKeyOptions {
  /**
   * Ephemeral keys are never persisted by a file vault and should be deleted as soon as they are used.
   * Default false.
   */
  readonly ephemeral?: boolean;
}

/** Public facts about a key held in a vault. */
export interface KeyInfo {
  readonly id: KeyId;
  readonly type: KeyType;
  readonly publicKey: Uint8Array;
}

/** AEAD algorithms (`chacha20poly1305`, `aes256gcm`) and hash functions a vault offers: the crypto layer's. */
export type { AeadAlgorithm, HashAlgorithm };

/**
 * A vault: key generation, Diffie-Hellman and signing by handle, plus the stateless primitives that use no
 * stored secret (hash, HKDF, AEAD, verify).
 */
export interface Vault {
  /** Generates a key of the given type and returns its id. */
  generateKey(type: KeyType, options?: GenerateKeyOptions): Promise<KeyId>;
  /** Lists the keys held (public facts only). */
  listKeys(): Promise<readonly KeyInfo[]>;
  /** The public key of a held key. Throws `VaultError` (`KEY_NOT_FOUND`) for an unknown id. */
  publicKey(id: KeyId): Promise<Uint8Array>;
  /** X25519: the shared secret between the held private key `id` and a peer's public key. */
  dh(id: KeyId, peerPublicKey: Uint8Array): Promise<Uint8Array>;
  /** Ed25519 detached signature of `data` by the held key `id`. */
  sign(id: KeyId, data: Uint8Array): Promise<Uint8Array>;
  /** Ed25519 verification against a public key. Needs no secret, so it is synchronous. */
  verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean;
  /** Deletes a key and wipes its secret bytes. Deleting an unknown id is a no-op. */
  deleteKey(id: KeyId): Promise<void>;
  /** A hash of `data`. */
  hash(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array;
}
