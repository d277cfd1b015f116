// The browser build's ./aead (see tools/build-browser.mjs): the AEADs of the libsodium backend, no node:crypto.
export type { Aead, AeadAlgorithm } from './aead';
export { sodiumAeads as aeads } from './sodium-backend';

/** Length of the authentication tag both algorithms append. */
export const AEAD_TAG_LENGTH = 16;
/** Every ChaCha20-Poly1305 call goes through libsodium here: there is no node:crypto to hand long ones to. */
export const CHACHA_NODE_THRESHOLD = Number.POSITIVE_INFINITY;
