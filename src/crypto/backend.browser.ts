// The browser build's ./backend (see tools/build-browser.mjs): the default backend is libsodium's, the one
// backend that runs without node:crypto; the Noise core and the vaults take it where Node's would be.
export type { CryptoBackend } from './backend';
export { sodiumCrypto as nodeCrypto } from './sodium-backend';
