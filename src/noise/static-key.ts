import { sodiumReady } from '../vault/sodium';
import type { KeyId, Vault } from '../vault/vault';
import { x25519 } from './x25519';

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
 * A static key over raw private key bytes (a copy is kept), for tests, test vectors and tools. Production
 * code should prefer `staticKeyFromVault`.
 */
export async function staticKeyFromPrivateKey(privateKey: Uint8Array): Promise<NoiseStaticKey> {
  await sodiumReady();
  const secret = Uint8Array.from(privateKey);
  return { publicKey: x25519.publicKey(secret), dh: (peer) => x25519.dh(secret, peer) };
}

/** A fresh random static key held in memory, for tests and short-lived peers. */
export async function generateStaticKey(): Promise<NoiseStaticKey> {
  await sodiumReady();
  const secret = x25519.generatePrivateKey();
  const key = await staticKeyFromPrivateKey(secret);
  secret.fill(0); // staticKeyFromPrivateKey kept its own copy
  return key;
}

/** A static key served by a vault: DH runs inside the vault on the X25519 key `id`. */
export async function staticKeyFromVault(vault: Vault, id: KeyId): Promise<NoiseStaticKey> {
  const publicKey = await vault.publicKey(id);
  return { publicKey, dh: (peer) => vault.dh(id, peer) };
}
