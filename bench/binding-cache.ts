/**
 * Benchmark-only switches for the process-wide caches of verified identity bindings (and, below, of
 * verified credential signatures). The binding cache
 * (src/channel/static-keys.ts `verifiedBindings`). A peer that reconnects with the same static key skips the
 * Ed25519 verification of its binding; turning the cache off makes every handshake verify, as for a peer
 * never seen before. Nothing in src/ offers this: it replaces the cache's `verify` on the instance.
 */
import { verifyBinding } from '../src';
import { verifiedBindings } from '../src/channel/static-keys';
import { signedStatement } from '../src/identity/credential-codec';
import { verifiedCredentials } from '../src/identity/verified-credentials';

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

const cachedRecall = verifiedCredentials.recall;
const cachedCheck = verifiedCredentials.check;

/**
 * Runs `body` with every credential decoded and its signature verified (Ed25519), as for a credential never
 * seen before, then restores the cache (src/identity/verified-credentials.ts) the same way.
 */
export async function withoutCredentialCache<T>(body: () => Promise<T>): Promise<T> {
  verifiedCredentials.recall = () => undefined;
  verifiedCredentials.check = (vault, authority, credential) =>
    vault.verify(authority.publicKey, signedStatement(credential.signedBody), credential.signature);
  try {
    return await body();
  } finally {
    verifiedCredentials.recall = cachedRecall;
    verifiedCredentials.check = cachedCheck;
  }
}
