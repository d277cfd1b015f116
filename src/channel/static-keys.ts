import { verifyBinding, type Identity } from '../identity';
import { staticKeyFromVault, type NoiseStaticKey } from '../noise';
import type { KeyId, Vault } from '../vault/vault';
import { SecureChannelError } from './errors';

/** An identity's Noise static key and its binding signature, as both ends of a handshake send them. */
export interface LocalStatic {
  readonly identity: Identity;
  readonly key: NoiseStaticKey;
  /** `identity.bind(key.publicKey)`: signed once, sent in every handshake. */
  readonly binding: Uint8Array;
}

const DEFAULT_KEY = '';
const byIdentity = new WeakMap<Identity, Map<KeyId, Promise<LocalStatic>>>();

/**
 * The Noise static key an identity uses for secure channels, with its binding signature. Without
 * `staticKeyId` it is an X25519 key generated in the identity's vault on first use (ephemeral: a file vault
 * does not persist it) and shared by every channel and listener of that identity in this process; with one,
 * it is that vault key (so an IK initiator can pin it across restarts). Both the key and the signature are
 * made once: an Ed25519 signature per handshake would cost more than the handshake's DH operations.
 */
export function localStaticKey(identity: Identity, staticKeyId?: KeyId): Promise<LocalStatic> {
  let keys = byIdentity.get(identity);
  if (keys === undefined) {
    keys = new Map();
    byIdentity.set(identity, keys);
  }
  const slot = staticKeyId ?? DEFAULT_KEY;
  let entry = keys.get(slot);
  if (entry === undefined) {
    entry = makeLocalStatic(identity, staticKeyId);
    keys.set(slot, entry);
    // A failure (a wrong key id) must not stick: the next call tries again.
    entry.catch(() => keys.delete(slot));
  }
  return entry;
}

async function makeLocalStatic(identity: Identity, staticKeyId: KeyId | undefined): Promise<LocalStatic> {
  const vault = identity.vault;
  let id = staticKeyId;
  if (id === undefined) {
    id = await vault.generateKey('x25519', { ephemeral: true });
  } else {
    const info = (await vault.listKeys()).find((key) => key.id === id);
    if (info?.type !== 'x25519') {
      throw new SecureChannelError('INVALID_OPTIONS', `staticKeyId ${id} is not an X25519 key of the vault`);
    }
  }
  const key = await staticKeyFromVault(vault, id);
  return { identity, key, binding: await identity.bind(key.publicKey) };
}

/** How many verified bindings are remembered. */
export const VERIFIED_BINDINGS_CAPACITY = 1024;

/**
 * Bindings already verified, keyed by (identity key, static key, signature): the same peer reconnecting with
 * the same static key skips an Ed25519 verification. Least recently used entries go first. Only successes
 * are kept, and the key covers every input of the verification, so a hit proves exactly what a
 * verification would.
 */
export class VerifiedBindings {
  private readonly entries = new Map<string, string>();

  constructor(private readonly capacity: number = VERIFIED_BINDINGS_CAPACITY) {}

  /** The identifier the binding proves; throws `IdentityError` like `verifyBinding`. */
  verify(vault: Vault, identityKey: Uint8Array, staticKey: Uint8Array, signature: Uint8Array): string {
    if (identityKey.length !== 32 || staticKey.length !== 32 || signature.length !== 64) {
      return verifyBinding(vault, identityKey, staticKey, signature); // throws MALFORMED_PROOF; never cached
    }
    const key = cacheKey(identityKey, staticKey, signature);
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key); // re-inserted below: Map order is recency order
      this.entries.set(key, hit);
      return hit;
    }
    const identifier = verifyBinding(vault, identityKey, staticKey, signature);
    if (this.entries.size >= this.capacity) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(key, identifier);
    return identifier;
  }

  get size(): number {
    return this.entries.size;
  }
}

function cacheKey(identityKey: Uint8Array, staticKey: Uint8Array, signature: Uint8Array): string {
  // The lengths are fixed (32, 32, 64; checked above), so plain concatenation is unambiguous; latin1 maps
  // each byte to one character.
  return (
    Buffer.from(identityKey.buffer, identityKey.byteOffset, identityKey.length).toString('latin1') +
    Buffer.from(staticKey.buffer, staticKey.byteOffset, staticKey.length).toString('latin1') +
    Buffer.from(signature.buffer, signature.byteOffset, signature.length).toString('latin1')
  );
}

/** The process-wide cache the handshakes use. */
export const verifiedBindings = new VerifiedBindings();
