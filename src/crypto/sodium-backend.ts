import type { Aead, AeadAlgorithm } from './aead';
import type { CryptoBackend } from './backend';
import type { HashAlgorithm, Hasher } from './hash';
import { HmacSha256, SHA256_LENGTH, Sha256 } from './sha256';
import { hkdf2 } from './hkdf';
import { concat } from './bytes';
import { sodium } from './sodium';
import type { X25519, X25519Key } from './x25519';

// Everything here is libsodium's WASM build (or plain TypeScript), so it runs wherever WebAssembly does: the
// browser build's backend (see src/browser.ts). Its functions need `sodiumReady()` to have resolved.

const TAG = 16;

/** A private key as this backend holds it. */
interface SodiumKey {
  readonly bytes: Uint8Array;
}

/** X25519 through `crypto_scalarmult` (which clamps the scalar as RFC 7748 says). */
export const sodiumX25519: X25519 = {
  generateKeyPair() {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    return { privateKey: { bytes } satisfies SodiumKey, publicKey: sodium().crypto_scalarmult_base(bytes) };
  },
  keyPairFromPrivateKey(privateKey) {
    const bytes = Uint8Array.from(privateKey);
    return { privateKey: { bytes } satisfies SodiumKey, publicKey: sodium().crypto_scalarmult_base(bytes) };
  },
  importPublicKey: (publicKey): X25519Key => Uint8Array.from(publicKey),
  dh(privateKey, publicKey) {
    try {
      // libsodium refuses (throws on) the all-zero output of a low-order public key.
      return sodium().crypto_scalarmult((privateKey as SodiumKey).bytes, publicKey as Uint8Array);
    } catch {
      return undefined;
    }
  },
};

/** A streaming hash: start, add parts, finish. */
interface Streaming {
  readonly block: number;
  readonly length: number;
  digest(parts: readonly Uint8Array[]): Uint8Array;
}

/** RFC 2104 HMAC over a hash with block length `block` (what Noise asks for; BLAKE2's keyed mode is not it). */
function hmacOver(hash: Streaming) {
  return (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array => {
    const k = new Uint8Array(hash.block);
    k.set(key.length > hash.block ? hash.digest([key]) : key);
    const inner = new Uint8Array(hash.block);
    const outer = new Uint8Array(hash.block);
    for (let i = 0; i < hash.block; i++) {
      inner[i] = k[i]! ^ 0x36;
      outer[i] = k[i]! ^ 0x5c;
    }
    const innerHash = hash.digest([inner, ...parts]);
    const out = hash.digest([outer, innerHash]);
    k.fill(0);
    inner.fill(0);
    outer.fill(0);
    innerHash.fill(0);
    return out;
  };
}

function hasherOver(algorithm: HashAlgorithm, hash: Streaming): Hasher {
  const hmac = hmacOver(hash);
  return {
    algorithm,
    length: hash.length,
    hash: (...parts) => hash.digest(parts),
    hmac,
    hkdf2: (ck, ikm) => hkdf2(hmac, ck, ikm),
  };
}

const sha512: Streaming = {
  block: 128,
  length: 64,
  digest(parts) {
    const s = sodium();
    const state = s.crypto_hash_sha512_init();
    for (const part of parts) s.crypto_hash_sha512_update(state, part);
    return s.crypto_hash_sha512_final(state);
  },
};

const blake2b: Streaming = {
  block: 128,
  length: 64,
  digest(parts) {
    const s = sodium();
    const state = s.crypto_generichash_init(null, 64);
    for (const part of parts) s.crypto_generichash_update(state, part);
    return s.crypto_generichash_final(state, 64);
  },
};

const sha256: Streaming = {
  block: 64,
  length: SHA256_LENGTH,
  digest(parts) {
    const sha = new Sha256();
    for (const part of parts) sha.update(part);
    return sha.digest();
  },
};

/** SHA-256 keeps the reusable TypeScript HMAC of ./sha256 (as Node's backend does): cheaper than generic. */
function sha256Hasher(): Hasher {
  const base = hasherOver('sha256', sha256);
  const mac = new HmacSha256();
  return {
    ...base,
    hmac(key, ...parts) {
      const out = new Uint8Array(SHA256_LENGTH);
      mac.setKey(key).macInto(parts, out);
      mac.clear();
      return out;
    },
  };
}

/** Unavailable here: libsodium has no BLAKE2s, and its AES-256-GCM needs AES-NI, which WASM has not. */
function unavailable(what: string): never {
  throw Object.assign(new Error(`${what} is not available in the libsodium (browser) backend`), {
    code: 'UNSUPPORTED_ALGORITHM',
  });
}

/** The hashers of this backend (BLAKE2s throws when used). */
export const sodiumHashers: Readonly<Record<HashAlgorithm, Hasher>> = {
  sha256: sha256Hasher(),
  sha512: hasherOver('sha512', sha512),
  blake2b: hasherOver('blake2b', blake2b),
  // Looked up eagerly by callers that build every function at once; it fails when used.
  blake2s: {
    algorithm: 'blake2s',
    length: 32,
    hash: () => unavailable('BLAKE2s'),
    hmac: () => unavailable('BLAKE2s'),
    hkdf2: () => unavailable('BLAKE2s'),
  },
};

const chacha20poly1305: Aead = {
  algorithm: 'chacha20poly1305',
  seal: (key, nonce, ad, plaintext) =>
    sodium().crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key),
  sealInto(key, nonce, ad, plaintext, out, offset, more) {
    const whole = more === undefined || more.length === 0 ? plaintext : concat(plaintext, more);
    out.set(sodium().crypto_aead_chacha20poly1305_ietf_encrypt(whole, ad, null, nonce, key), offset);
  },
  // libsodium's output is one array already: nothing to save by keeping parts apart.
  sealParts(key, nonce, ad, plaintext, more) {
    const whole = more === undefined || more.length === 0 ? plaintext : concat(plaintext, more);
    return [sodium().crypto_aead_chacha20poly1305_ietf_encrypt(whole, ad, null, nonce, key)];
  },
  open(key, nonce, ad, ciphertext) {
    if (ciphertext.length < TAG) return undefined;
    try {
      return sodium().crypto_aead_chacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, key);
    } catch {
      return undefined;
    }
  },
};

/** The AEADs of this backend (AES-256-GCM throws when used). */
export const sodiumAeads: Readonly<Record<AeadAlgorithm, Aead>> = {
  chacha20poly1305,
  // The Noise core builds every cipher of a backend at once: this one fails when used, not when looked up.
  aes256gcm: {
    algorithm: 'aes256gcm',
    seal: () => unavailable('AES-256-GCM'),
    sealInto: () => unavailable('AES-256-GCM'),
    sealParts: () => unavailable('AES-256-GCM'),
    open: () => unavailable('AES-256-GCM'),
  },
};

/**
 * The libsodium backend: every primitive in libsodium's WASM build (SHA-256 in TypeScript), so it runs in a
 * browser, where node:crypto does not exist. Noise_XX_25519_ChaChaPoly_{SHA256,SHA512,BLAKE2b} run on it;
 * AESGCM and BLAKE2s suites do not.
 */
export const sodiumCrypto: CryptoBackend = {
  name: 'libsodium',
  x25519: sodiumX25519,
  hasher: (algorithm) => sodiumHashers[algorithm],
  aead: (algorithm) => sodiumAeads[algorithm],
};
