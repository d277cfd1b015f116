import type { KeyObject } from 'node:crypto';
import { sodiumReady } from '../vault/sodium';
import type { KeyId, Vault } from '../vault/vault';
import { x25519, type X25519KeyPair } from './x25519';

/**
 * A long-term X25519 key as the handshake sees it: the public half, and DH with it. The private half stays
 * behind `dh`, so a vault can serve the key without ever handing it out. `dh` returns a fresh array the
 * handshake wipes after use.
 */
export interface NoiseStaticKey {
  readonly publicKey: Uint8Array;
  dh(peerPublicKey: Uint8Array): Promise<Uint8Array> | Uint8Array;
}

/**
 * A static key held in this process as a node:crypto key object. Besides `dh` it offers `dhWithKey`, which
 * takes the peer's public key already imported: the handshake imports each received key once (~44 µs) and
 * uses it for every DH it appears in, its own and this key's.
 */
export class InMemoryStaticKey implements NoiseStaticKey {
  readonly publicKey: Uint8Array;
  private readonly privateKey: KeyObject;

  constructor(pair: X25519KeyPair) {
    this.publicKey = pair.publicKey;
    this.privateKey = pair.privateKey;
  }

  dh(peerPublicKey: Uint8Array): Uint8Array {
    return x25519.dh(this.privateKey, x25519.importPublicKey(peerPublicKey));
  }

  /** DH with a peer public key imported by `x25519.importPublicKey`. */
  dhWithKey(peerPublicKey: KeyObject): Uint8Array {
    return x25519.dh(this.privateKey, peerPublicKey);
  }
}

/**
 * A static key over raw private key bytes (imported, so the caller may wipe its array), for tests, test
 * vectors and tools. Production code should prefer `staticKeyFromVault`.
 */
export async function staticKeyFromPrivateKey(privateKey: Uint8Array): Promise<NoiseStaticKey> {
  await sodiumReady(); // as before: a caller may go on to use a CipherState directly
  return new InMemoryStaticKey(x25519.keyPairFromPrivateKey(privateKey));
}

/** A fresh random static key held in memory, for tests and short-lived peers. */
export async function generateStaticKey(): Promise<NoiseStaticKey> {
  await sodiumReady();
  return new InMemoryStaticKey(x25519.generateKeyPair());
}

/** A static key served by a vault: DH runs inside the vault on the X25519 key `id`. */
export async function staticKeyFromVault(vault: Vault, id: KeyId): Promise<NoiseStaticKey> {
  const publicKey = await vault.publicKey(id);
  return { publicKey, dh: (peer) => vault.dh(id, peer) };
}
