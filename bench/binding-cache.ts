/**
 * A benchmark-only switch for the process-wide cache of verified identity bindings
 * (src/channel/static-keys.ts `verifiedBindings`). A peer that reconnects with the same static key skips the
 * Ed25519 verification of its binding; turning the cache off makes every handshake verify, as for a peer
 * never seen before. Nothing in src/ offers this: it replaces the cache's `verify` on the instance.
 */
import { verifyBinding } from '../src';
import { verifiedBindings } from '../src/channel/static-keys';

const cachedVerify = verifiedBindings.verify;

/** Whether handshakes of this process may use the cache (true, the default) or verify every binding. */
export function useBindingCache(on: boolean): void {
  verifiedBindings.verify = on
    ? cachedVerify
    : (vault, identityKey, staticKey, signature) => verifyBinding(vault, identityKey, staticKey, signature);
}

/** Runs `body` with every binding verified, then restores the cache. */
export async function withoutBindingCache<T>(body: () => Promise<T>): Promise<T> {
  useBindingCache(false);
  try {
    return await body();
  } finally {
    useBindingCache(true);
  }
}
