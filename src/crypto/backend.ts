import { aeads, type Aead, type AeadAlgorithm } from './aead';
import { hashers, type HashAlgorithm, type Hasher } from './hash';
import { nodeX25519, type X25519 } from './x25519';

/**
 * The primitives a protocol needs, as one object it is given (as js-libp2p-noise takes its crypto): the
 * Noise core runs on any backend, and the one here is Node's. A browser backend would implement the same
 * over WebCrypto and a WASM build.
 */
export interface CryptoBackend {
  readonly name: string;
  readonly x25519: X25519;
  hasher(algorithm: HashAlgorithm): Hasher;
  aead(algorithm: AeadAlgorithm): Aead;
}

/**
 * Node's backend, each primitive in its fastest form measured here: X25519 through node:crypto key objects,
 * SHA-256 in TypeScript (the other hashes through node:crypto), ChaCha20-Poly1305 through libsodium for
 * short messages and node:crypto for long ones, AES-256-GCM through node:crypto. Its libsodium parts need
 * `sodiumReady()` to have resolved.
 */
export const nodeCrypto: CryptoBackend = {
  name: 'node',
  x25519: nodeX25519,
  hasher: (algorithm) => hashers[algorithm],
  aead: (algorithm) => aeads[algorithm],
};
