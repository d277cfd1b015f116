import { inspect } from 'node:util';
import { nodeCrypto, sodiumReady, type CryptoBackend, type X25519Key } from '../crypto';
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
 * A static key held in this process by a crypto backend (Node's: a node:crypto key object). Besides `dh` it
 * offers `dhWithKey`, which takes the peer's public key already imported by the same backend: the handshake
 * imports each received key once (~44 µs) and uses it for every DH it appears in, its own and this key's.
 */
export class InMemoryStaticKey implements NoiseStaticKey {
  readonly publicKey: Uint8Array;
  private readonly privateKey: X25519Key;

  constructor(
    /** The backend that holds the private key. */
    readonly crypto: CryptoBackend,
    privateKey: Uint8Array | undefined,
  ) {
    const pair =
      privateKey === undefined
        ? x25519.generateKeyPair(crypto)
        : x25519.keyPairFromPrivateKey(crypto, privateKey);
    this.publicKey = pair.publicKey;
    this.privateKey = pair.privateKey;
  }

  /** What printouts (`JSON.stringify`, loggers, `util.inspect`) show: the public key only. */
  toJSON(): { publicKey: string } {
    return { publicKey: Buffer.from(this.publicKey).toString('hex') };
  }

  [inspect.custom](): string {
    return `InMemoryStaticKey ${JSON.stringify(this.toJSON())}`;
  }

  dh(peerPublicKey: Uint8Array): Uint8Array {
    return x25519.dh(this.crypto, this.privateKey, x25519.importPublicKey(this.crypto, peerPublicKey));
  }

  /** DH with a peer public key imported by this key's backend (`x25519.importPublicKey`). */
  dhWithKey(peerPublicKey: X25519Key): Uint8Array {
    return x25519.dh(this.crypto, this.privateKey, peerPublicKey);
  }
}

/**
 * A static key over raw private key bytes (imported, so the caller may wipe its array), for tests, test
 * vectors and tools. Production code should prefer `staticKeyFromVault`.
 */
export async function staticKeyFromPrivateKey(privateKey: Uint8Array): Promise<NoiseStaticKey> {
  await sodiumReady(); // as before: a caller may go on to use a CipherState directly
  return new InMemoryStaticKey(nodeCrypto, privateKey);
}

/** A fresh random static key held in memory, for tests and short-lived peers. */
export async function generateStaticKey(): Promise<NoiseStaticKey> {
  await sodiumReady();
  return new InMemoryStaticKey(nodeCrypto, undefined);
}

/** A static key served by a vault: DH runs inside the vault on the X25519 key `id`. */
export async function staticKeyFromVault(vault: Vault, id: KeyId): Promise<NoiseStaticKey> {
  const publicKey = await vault.publicKey(id);
  return { publicKey, dh: (peer) => vault.dh(id, peer) };
}
