// The browser build's ./x25519 (see tools/build-browser.mjs): X25519 of the libsodium backend under the name
// the rest of the code knows (the platform's X25519), no node:crypto.
export type { X25519, X25519Key, X25519KeyPair } from './x25519';
export { sodiumX25519 as nodeX25519 } from './sodium-backend';

/** X25519 public keys, private keys and DH outputs are 32 bytes. */
export const X25519_LENGTH = 32;
