/**
 * The secret half of a vault: private keys by id, and the two operations that use them (X25519 DH and
 * Ed25519 signing). Both vault implementations hold one; a file vault adds persistence around it. Internal:
 * not exported from the vault's public surface, because `secret` is exactly what must not leave.
 */
import { inspect } from 'node:util';
import { VaultError } from './errors';
import { sodium } from '../crypto/sodium';
import type { KeyId, KeyInfo, KeyType } from './vault';

/** Length of every key's persisted secret (X25519 scalar, Ed25519 seed) and of every public key. */
export const SECRET_LENGTH = 32;

/**
 * One held key. `secret` is the 32-byte form that is persisted and from which the public key is derived: the
 * X25519 private scalar, or the RFC 8032 Ed25519 seed. Ed25519 also keeps libsodium's 64-byte expanded form
 * (seed || public key) for signing, in `signingKey`.
 */
export interface KeyEntry {
  readonly id: KeyId;
  readonly type: KeyType;
  readonly publicKey: Uint8Array;
  readonly secret: Uint8Array;
  readonly signingKey?: Uint8Array;
  readonly ephemeral: boolean;
}

/** The public facts about a key, with a copy of the public key so callers cannot alter ours. */
export function keyInfo(entry: KeyEntry): KeyInfo {
  return { id: entry.id, type: entry.type, publicKey: entry.publicKey.slice() };
}

/** Wipes every secret byte an entry holds. */
export function wipeEntry(entry: KeyEntry): void {
  sodium().memzero(entry.secret);
  if (entry.signingKey !== undefined) {
    sodium().memzero(entry.signingKey);
  }
}

/**
 * Rebuilds a key from its 32-byte secret (copied, so the caller may wipe its own). Throws `INVALID_ARGUMENT`
 * for a secret of the wrong length.
 */
export function entryFromSecret(id: KeyId, type: KeyType, secret: Uint8Array, ephemeral: boolean): KeyEntry {
  if (secret.length !== SECRET_LENGTH) {
    throw new VaultError('INVALID_ARGUMENT', `a ${type} secret must be ${SECRET_LENGTH} bytes`);
  }
  const s = sodium();
  switch (type) {
    case 'x25519':
      return { id, type, ephemeral, secret: secret.slice(), publicKey: s.crypto_scalarmult_base(secret) };
    case 'ed25519': {
      const pair = s.crypto_sign_seed_keypair(secret);
      return {
        id,
        type,
        ephemeral,
        secret: secret.slice(),
        publicKey: pair.publicKey,
        signingKey: pair.privateKey,
      };
    }
    default:
      throw new VaultError('INVALID_ARGUMENT', `unknown key type ${JSON.stringify(type)}`);
  }
}

/**
 * Key ids are 128 random bits in hex. They say nothing about the key (a hash of the public key would let
 * anyone who sees an id in a log link it to a peer's identity) and are unique without coordination; a file
 * vault persists them, so an id is stable across reopening.
 */
export function newKeyId(): KeyId {
  return sodium().randombytes_buf(16, 'hex');
}

/** Private keys by id, in insertion order. */
export class KeyStore {
  // #private: the secrets must not reach a printout, a spread or a structured clone.
  readonly #entries = new Map<KeyId, KeyEntry>();

  /** How many keys are held. */
  get size(): number {
    return this.#entries.size;
  }

  /** What `JSON.stringify` and loggers show: the ids and types of the keys, never their secrets. */
  toJSON(): { keys: { id: KeyId; type: KeyType }[] } {
    return { keys: this.all().map(({ id, type }) => ({ id, type })) };
  }

  /** What `console.log` and `util.inspect` show. */
  [inspect.custom](): string {
    return `KeyStore ${JSON.stringify(this.toJSON())}`;
  }

  /** Makes a fresh key with a fresh id; it is not held until `add`ed (so persistence can come first). */
  create(type: KeyType, ephemeral: boolean): KeyEntry {
    let id = newKeyId();
    while (this.#entries.has(id)) {
      id = newKeyId();
    }
    const secret = sodium().randombytes_buf(SECRET_LENGTH);
    try {
      return entryFromSecret(id, type, secret, ephemeral);
    } finally {
      sodium().memzero(secret);
    }
  }

  /** Holds `entry`. Throws if its id is taken, which would otherwise silently drop a key. */
  add(entry: KeyEntry): void {
    if (this.#entries.has(entry.id)) {
      throw new VaultError('INVALID_ARGUMENT', `key id ${entry.id} is already held`);
    }
    this.#entries.set(entry.id, entry);
  }

  /** Whether a key with this id is held. */
  has(id: KeyId): boolean {
    return this.#entries.has(id);
  }

  /** The key `id`; `KEY_NOT_FOUND` if absent, `WRONG_KEY_TYPE` if `type` is given and differs. */
  get(id: KeyId, type?: KeyType): KeyEntry {
    const entry = this.#entries.get(id);
    if (entry === undefined) {
      throw new VaultError('KEY_NOT_FOUND', `no key with id ${id}`);
    }
    if (type !== undefined && entry.type !== type) {
      throw new VaultError('WRONG_KEY_TYPE', `key ${id} is ${entry.type}, not ${type}`);
    }
    return entry;
  }

  /** All held keys, in insertion order. */
  all(): KeyEntry[] {
    return [...this.#entries.values()];
  }

  /** Removes the key `id` and wipes its secret bytes; no-op for an unknown id. */
  delete(id: KeyId): void {
    const entry = this.#entries.get(id);
    if (entry !== undefined) {
      this.#entries.delete(id);
      wipeEntry(entry);
    }
  }

  /** Removes and wipes every key. */
  clear(): void {
    for (const entry of this.#entries.values()) {
      wipeEntry(entry);
    }
    this.#entries.clear();
  }

  /**
   * X25519 with the held key `id`. A peer key of the wrong length, or one of low order (libsodium refuses an
   * all-zero shared secret), is `INVALID_PUBLIC_KEY`.
   */
  dh(id: KeyId, peerPublicKey: Uint8Array): Uint8Array {
    const entry = this.get(id, 'x25519');
    if (peerPublicKey.length !== SECRET_LENGTH) {
      throw new VaultError('INVALID_PUBLIC_KEY', `an X25519 public key must be ${SECRET_LENGTH} bytes`);
    }
    try {
      return sodium().crypto_scalarmult(entry.secret, peerPublicKey);
    } catch {
      throw new VaultError('INVALID_PUBLIC_KEY', 'the peer public key is of low order');
    }
  }

  /** Ed25519 detached signature by the held key `id`. */
  sign(id: KeyId, data: Uint8Array): Uint8Array {
    const entry = this.get(id, 'ed25519');
    // signingKey is always set for ed25519 entries (entryFromSecret).
    return sodium().crypto_sign_detached(data, entry.signingKey as Uint8Array);
  }
}
