/**
 * The crypto layer: libsodium loading, the primitives (X25519, hashes with HMAC and HKDF, AEADs) and the
 * backend interface the Noise core and the vaults use them through. Imports nothing of ours but core.
 */
export { AEAD_TAG_LENGTH, CHACHA_NODE_THRESHOLD, aeads } from './aead';
export type { Aead, AeadAlgorithm } from './aead';
export { nodeCrypto } from './backend';
export type { CryptoBackend } from './backend';
export { hashers, hkdf } from './hash';
export type { HashAlgorithm, Hasher } from './hash';
export { HmacSha256, SHA256_LENGTH, Sha256 } from './sha256';
export { sodium, sodiumReady } from './sodium';
export type { Sodium } from './sodium';
export { X25519_LENGTH, nodeX25519 } from './x25519';
export type { X25519, X25519Key, X25519KeyPair } from './x25519';
