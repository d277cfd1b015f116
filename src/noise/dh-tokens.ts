import type { CryptoBackend, X25519Key, X25519KeyPair } from '../crypto';
import { NoiseError } from './errors';
import type { Token } from './handshake-patterns';
import { InMemoryStaticKey, type NoiseStaticKey } from './static-key';
import { x25519 } from './x25519';

/**
 * A remote public key (re or rs): its bytes, and the key object DH needs, imported on first use and then
 * shared by every DH the key appears in (XX uses re twice on each side).
 */
export interface RemoteKey {
  readonly bytes: Uint8Array;
  imported: X25519Key | undefined;
}

/** The keys a DH token may name, as a handshake holds them at this point. */
export interface DhKeys {
  readonly crypto: CryptoBackend;
  readonly initiator: boolean;
  readonly s: NoiseStaticKey | undefined;
  readonly e: X25519KeyPair | undefined;
  readonly re: RemoteKey | undefined;
  readonly rs: RemoteKey | undefined;
}

/** A DH token: the tokens that are not `e` or `s`. */
export type DhToken = Exclude<Token, 'e' | 's'>;

/**
 * The DH of a DH token (spec 7.1). "es" is DH(e, rs) for the initiator and DH(s, re) for the responder,
 * "se" the mirror image: the first letter names the initiator's key. Synchronous but for a static key
 * whose DH answers asynchronously (a vault's), so an in-memory handshake never waits for a promise.
 */
export function dhOf(token: DhToken, k: DhKeys): Uint8Array | Promise<Uint8Array> {
  switch (token) {
    case 'ee':
      // ee: MixKey(DH(e, re))
      return x25519.dh(k.crypto, required(k.e, 'e').privateKey, imported(k, required(k.re, 're')));
    case 'es':
      // es: MixKey(DH(e, rs)) if initiator, MixKey(DH(s, re)) if responder
      return k.initiator
        ? x25519.dh(k.crypto, required(k.e, 'e').privateKey, imported(k, required(k.rs, 'rs')))
        : staticDh(k, required(k.re, 're'));
    case 'se':
      // se: MixKey(DH(s, re)) if initiator, MixKey(DH(e, rs)) if responder
      return k.initiator
        ? staticDh(k, required(k.re, 're'))
        : x25519.dh(k.crypto, required(k.e, 'e').privateKey, imported(k, required(k.rs, 'rs')));
    case 'ss':
      // ss: MixKey(DH(s, rs))
      return staticDh(k, required(k.rs, 'rs'));
  }
}

/** A key the handshake must hold at this point; `MISSING_KEY` if it does not. */
export function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new NoiseError('MISSING_KEY', `the handshake has no ${name} at this point`);
  return value;
}

/** DH(s, remote): with the remote key object when s is in memory, else through the key's own `dh`. */
function staticDh(k: DhKeys, remote: RemoteKey): Uint8Array | Promise<Uint8Array> {
  const s = required(k.s, 's');
  return s instanceof InMemoryStaticKey && s.crypto === k.crypto
    ? s.dhWithKey(imported(k, remote))
    : s.dh(remote.bytes);
}

/** The backend's form of a remote public key, imported once. */
function imported(k: DhKeys, remote: RemoteKey): X25519Key {
  return (remote.imported ??= x25519.importPublicKey(k.crypto, remote.bytes));
}
