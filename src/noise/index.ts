/**
 * The Noise Protocol Framework core (pure: no I/O): XX, IK and NK handshakes over 25519, ChaChaPoly or
 * AESGCM, and SHA256, SHA512, BLAKE2b or BLAKE2s, plus the transport CipherState the channel layer uses.
 */
export { CHACHA_NODE_THRESHOLD, cipherFunction, TAG_LENGTH } from './cipher-functions';
export type { CipherFunction, CipherName } from './cipher-functions';
export { CipherState, MAX_MESSAGE_LENGTH, MAX_PLAINTEXT_LENGTH } from './cipher-state';
export { NoiseError } from './errors';
export { NOISE_ERROR_CODES, type NoiseErrorCode } from './errors';
export { handshakePatterns } from './handshake-patterns';
export type { HandshakePattern, PatternName, Token } from './handshake-patterns';
export { HandshakeState } from './handshake-state';
export type { HandshakeOptions } from './handshake-options';
export type { HandshakeTurn, TransportCiphers } from './handshake-state';
export { hashFunction } from './hash-functions';
export type { HashFunction, HashName } from './hash-functions';
export { DEFAULT_PROTOCOL_NAME, parseProtocolName } from './protocol-name';
export type { NoiseProtocol } from './protocol-name';
export { generateStaticKey, staticKeyFromPrivateKey, staticKeyFromVault } from './static-key';
export type { NoiseStaticKey } from './static-key';
export { DH_LEN } from './x25519';
