import type { CredentialProvider } from '../../src/identity';

/** A credential provider whose credential a test replaces with `renew`, telling listeners as MemberCredentials does. */
export function renewableCredentials(
  first: Uint8Array,
): CredentialProvider & { renew(next: Uint8Array): void } {
  let current = first;
  const listeners = new Set<() => void>();
  return {
    current: () => [current],
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    renew(next) {
      current = next;
      for (const listener of listeners) listener();
    },
  };
}
