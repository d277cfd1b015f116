import { nodeCrypto, type CryptoBackend } from '../crypto';
import { CipherFunction, cipherFunction } from './cipher-functions';
import { NoiseError } from './errors';
import { HandshakePattern, handshakePattern } from './handshake-patterns';
import { HashFunction, hashFunction } from './hash-functions';

/** The protocol a handshake uses when none is named: mutual authentication, ChaChaPoly, SHA-256. */
export const DEFAULT_PROTOCOL_NAME = 'Noise_XX_25519_ChaChaPoly_SHA256';

/** A parsed protocol name: the pattern and the crypto functions it names. */
export interface NoiseProtocol {
  readonly name: string;
  readonly pattern: HandshakePattern;
  readonly dh: '25519';
  readonly cipher: CipherFunction;
  readonly hash: HashFunction;
}

/**
 * Parses `Noise_<pattern>_<dh>_<cipher>_<hash>` (spec section 8): patterns XX, IK, NK; DH 25519; ciphers
 * ChaChaPoly, AESGCM; hashes SHA256, SHA512, BLAKE2b, BLAKE2s. Anything else, modifiers such as psk0 or
 * fallback included, throws `UNSUPPORTED_PROTOCOL`. The functions run on `crypto` (default Node's backend).
 */
export function parseProtocolName(name: string, crypto: CryptoBackend = nodeCrypto): NoiseProtocol {
  const parts = name.split('_');
  if (parts.length !== 5 || parts[0] !== 'Noise') {
    throw new NoiseError('UNSUPPORTED_PROTOCOL', `not a Noise protocol name: ${name}`);
  }
  const [, pattern, dh, cipher, hash] = parts as [string, string, string, string, string];
  if (dh !== '25519') {
    throw new NoiseError('UNSUPPORTED_PROTOCOL', `unsupported Noise DH function: ${dh}`);
  }
  return {
    name,
    pattern: handshakePattern(pattern),
    dh,
    cipher: cipherFunction(cipher, crypto),
    hash: hashFunction(hash, crypto),
  };
}
