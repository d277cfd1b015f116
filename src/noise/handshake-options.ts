import type { CryptoBackend } from '../crypto';
import { NoiseError } from './errors';
import type { HandshakePattern } from './handshake-patterns';
import type { NoiseStaticKey } from './static-key';
import { DH_LEN } from './x25519';

/** What a handshake is built from. */
export interface HandshakeOptions {
  /** `Noise_<XX|IK|NK>_25519_<ChaChaPoly|AESGCM>_<SHA256|SHA512|BLAKE2b|BLAKE2s>`; default `DEFAULT_PROTOCOL_NAME`. */
  readonly protocolName?: string;
  /** Whether this side sends the first message. */
  readonly initiator: boolean;
  /** Data both sides must agree on (a version string, the transport context); mixed into h. Default empty. */
  readonly prologue?: Uint8Array;
  /** This side's static key, if the pattern uses one. */
  readonly s?: NoiseStaticKey;
  /** The remote static public key known in advance (IK and NK initiators). */
  readonly rs?: Uint8Array;
  /** The ephemeral private key to use instead of a fresh random one: for test vectors only. */
  readonly e?: Uint8Array;
  /** The primitives to run on; default Node's (`nodeCrypto`). */
  readonly crypto?: CryptoBackend;
}

/**
 * Checks the keys given to Initialize against what `pattern` needs from this side: `MISSING_KEY` for a key
 * it uses but was not given, `INVALID_KEY` for one of the wrong length, or an `rs` the pattern learns itself.
 */
export function checkHandshakeKeys(pattern: HandshakePattern, options: HandshakeOptions): void {
  const { initiator, s, rs, e } = options;
  if (s === undefined && needsLocalStatic(pattern, initiator)) {
    throw new NoiseError('MISSING_KEY', `${pattern.name} needs this side's static key (s)`);
  }
  if (s !== undefined && s.publicKey.length !== DH_LEN) {
    throw new NoiseError('INVALID_KEY', `a static public key is ${DH_LEN} bytes, got ${s.publicKey.length}`);
  }
  const remotePreMessages = initiator ? pattern.responderPreMessages : pattern.initiatorPreMessages;
  if (remotePreMessages.includes('s')) {
    if (rs === undefined) {
      throw new NoiseError('MISSING_KEY', `${pattern.name} needs the remote static key in advance (rs)`);
    }
    if (rs.length !== DH_LEN) {
      throw new NoiseError('INVALID_KEY', `a remote static key is ${DH_LEN} bytes, got ${rs.length}`);
    }
  } else if (rs !== undefined) {
    // Silently ignoring it would let a caller believe the peer is pinned when the pattern learns rs itself.
    throw new NoiseError('INVALID_KEY', `${pattern.name} learns the remote static key; do not pass rs`);
  }
  if (e !== undefined && e.length !== DH_LEN) {
    throw new NoiseError('INVALID_KEY', `an ephemeral private key is ${DH_LEN} bytes, got ${e.length}`);
  }
}

/** Whether this side's static key occurs in the pattern: sent, pre-known by the peer, or in a DH. */
function needsLocalStatic(pattern: HandshakePattern, initiator: boolean): boolean {
  const own = initiator ? pattern.initiatorPreMessages : pattern.responderPreMessages;
  if (own.includes('s')) return true;
  // The first letter of a DH token names the initiator's key, the second the responder's.
  const dhUsesOwnS = initiator ? ['se', 'ss'] : ['es', 'ss'];
  return pattern.messages.some(
    (tokens, i) =>
      tokens.some((t) => dhUsesOwnS.includes(t)) || ((i % 2 === 0) === initiator && tokens.includes('s')),
  );
}
