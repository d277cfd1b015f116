/**
 * Sealroute in a browser (`sealroute/browser`): a node, the WebSocket transport on the browser's own
 * WebSocket, identities, secure channels, and vaults in memory or in IndexedDB; the crypto is libsodium's WASM
 * build (`sodiumCrypto`). No TCP, no file vault, no hub services: nothing that needs Node. Built by
 * tools/build-browser.mjs, which bundles this file from tsc's output with the browser versions of the
 * Node-only modules (`*.browser.ts`).
 */
export { Address, LOCAL, TCP, WS, WSS, addressTypeName } from './core/address';
export { Route, route, type RoutePart, type Addressable } from './core/route';
export { LocalMessage, TRANSPORT_INFO, originOf } from './core/message';
export { SealrouteError, AddressError, DecodeError, MessageTooLargeError, TimeoutError } from './core/errors';

export { NodeRuntime, type NodeOptions } from './node/node-runtime';
export { Context, type Destination, type WaitOptions, type RequestOptions } from './node/context';
export { allowAll, denyAll, type AccessRule, type WorkerOptions } from './node/worker';
export { NodeError } from './node/errors';
export { defaultLogger, silentLogger, type Logger } from './node/logger';

export { sodiumReady } from './crypto/sodium';
export { sodiumCrypto } from './crypto/sodium-backend';
export type { CryptoBackend } from './crypto/backend';

export { InMemoryVault } from './vault/in-memory-vault';
export { IndexedDbVault, type IndexedDbVaultOptions } from './vault/indexeddb-vault';
export { VaultError } from './vault/errors';
export type { Vault, KeyId, KeyType } from './vault/vault';
export { ARGON2ID_INTERACTIVE, ARGON2ID_MIN, type FileVaultSecret } from './vault/file-keys';

export { Identity, IdentityError, TrustAnyIdentity, TrustEveryone, TrustIdentifier } from './identity';
export type { TrustPolicy } from './identity';

export {
  createSecureChannel,
  createSecureChannelListener,
  SecureChannel,
  SecureChannelListener,
  SecureChannelError,
  fromSecureChannel,
  remoteIdentifierOf,
} from './channel';

export { ForwardingAddress } from './services/forwarding-address';
export { ServicesError } from './services/errors';

export { TransportError, type TransportErrorCode } from './transport/errors';
export {
  WebSocketTransport,
  browserWebSocketRuntime,
  type WebSocketTransportOptions,
  type WebSocketRuntime,
} from './transport/ws/websocket-transport';
export type { Transport, TransportConnection } from './transport/transport';
