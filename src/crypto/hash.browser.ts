// The browser build's ./hash (see tools/build-browser.mjs): the hashers of the libsodium backend.
export type { HashAlgorithm, Hasher } from './hash';
export { hkdf } from './hkdf';
export { sodiumHashers as hashers } from './sodium-backend';
