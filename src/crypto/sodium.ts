import sodiumModule from 'libsodium-wrappers-sumo';

/** The libsodium API (sumo build: adds SHA-256, HMAC and Argon2id to the standard one). */
export type Sodium = typeof sodiumModule;

let ready: Promise<Sodium> | undefined;
let instance: Sodium | undefined;

/** Resolves once libsodium's WASM module is initialised; later calls share the same promise. */
export function sodiumReady(): Promise<Sodium> {
  ready ??= sodiumModule.ready.then(() => (instance = sodiumModule));
  return ready;
}

/**
 * The initialised libsodium, for synchronous hot paths. Throws if `sodiumReady()` has not resolved yet:
 * every entry point that needs it awaits it first (creating a vault, `HandshakeState.create`).
 */
export function sodium(): Sodium {
  if (instance === undefined) {
    throw new Error('libsodium is not initialised: await sodiumReady() first');
  }
  return instance;
}
