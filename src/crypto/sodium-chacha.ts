import { sodium } from './sodium';

/** The parts of libsodium's raw Emscripten module this file calls (the wrappers' `libsodium` export). */
interface RawSodium {
  readonly HEAPU8: Uint8Array;
  _malloc(size: number): number;
  /*
   * crypto_aead_chacha20poly1305_ietf_{en,de}crypt, the combined calls (ciphertext || tag in one region), as
   * the wrappers call them: every 64-bit length is two 32-bit arguments (low, high), and a null length
   * pointer is not written. Both return 0 on success; decryption -1 when the tag does not verify.
   */
  _crypto_aead_chacha20poly1305_ietf_encrypt(
    c: number,
    clenP: number,
    m: number,
    mlenLo: number,
    mlenHi: number,
    ad: number,
    adlenLo: number,
    adlenHi: number,
    nsec: number,
    npub: number,
    k: number,
  ): number;
  _crypto_aead_chacha20poly1305_ietf_decrypt(
    m: number,
    mlenP: number,
    nsec: number,
    c: number,
    clenLo: number,
    clenHi: number,
    ad: number,
    adlenLo: number,
    adlenHi: number,
    npub: number,
    k: number,
  ): number;
}

const KEY = 32;
/** The nonce has 12 bytes; its slot is 16, keeping what follows aligned. */
const NONCE_SLOT = 16;
const TAG = 16;
/** The largest associated data the workspace holds: a Noise handshake hash is 32 or 64 bytes. */
export const SODIUM_AD_MAX = 64;
/** The largest message (plaintext, or ciphertext without its tag) the workspace holds. */
export const SODIUM_MESSAGE_MAX = 16 * 1024;

/**
 * One region of libsodium's WASM memory, allocated once, that every short ChaCha20-Poly1305 message goes
 * through: key, nonce, associated data and message (ciphertext || tag, the combined calls' layout). The
 * wrappers' `crypto_aead_*` functions allocate and free a buffer per argument and copy the result out into a
 * new array on every call; here a message is copied in, sealed or opened in place, and copied out straight to
 * where the caller wants it, in one copy each way. Synchronous and single-threaded, so one workspace serves
 * the whole process. The key and the plaintext are wiped from the workspace after every call: no secret stays
 * in WASM memory between messages.
 */
export class SodiumChaCha {
  private readonly lib: RawSodium;
  private readonly key: number;
  private readonly nonce: number;
  private readonly ad: number;
  private readonly message: number;

  constructor(readonly maxMessage: number) {
    this.lib = (sodium() as unknown as { libsodium: RawSodium }).libsodium;
    const base = this.lib._malloc(KEY + NONCE_SLOT + SODIUM_AD_MAX + maxMessage + TAG);
    if (base === 0) throw new Error('libsodium could not allocate its ChaCha20-Poly1305 workspace');
    this.key = base;
    this.nonce = base + KEY;
    this.ad = this.nonce + NONCE_SLOT;
    this.message = this.ad + SODIUM_AD_MAX;
  }

  /**
   * Writes ciphertext || tag of `plaintext || more` into `out` at `offset` (the caller checked the lengths).
   */
  sealInto(
    key: Uint8Array,
    nonce: Uint8Array,
    ad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    offset: number,
    more?: Uint8Array,
  ): void {
    const { lib, message } = this;
    this.load(key, nonce, ad, plaintext);
    let length = plaintext.length;
    if (more !== undefined && more.length > 0) {
      lib.HEAPU8.set(more, message + length);
      length += more.length;
    }
    lib._crypto_aead_chacha20poly1305_ietf_encrypt(
      message,
      0,
      message,
      length,
      0,
      this.ad,
      ad.length,
      0,
      0,
      this.nonce,
      this.key,
    );
    const heap = lib.HEAPU8; // read again: a call that grew the memory replaced the view
    out.set(heap.subarray(message, message + length + TAG), offset);
    this.wipe(heap, 0);
  }

  /**
   * Opens `ciphertext` (ciphertext || tag): its plaintext in a new array, or undefined if it does not verify.
   */
  open(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined {
    const { lib, message } = this;
    const length = ciphertext.length - TAG;
    this.load(key, nonce, ad, ciphertext);
    const failed = lib._crypto_aead_chacha20poly1305_ietf_decrypt(
      message,
      0,
      0,
      message,
      ciphertext.length,
      0,
      this.ad,
      ad.length,
      0,
      this.nonce,
      this.key,
    );
    const heap = lib.HEAPU8;
    // libsodium writes no plaintext when the tag does not verify; the copy is made only when it did.
    const plaintext = failed === 0 ? heap.slice(message, message + length) : undefined;
    this.wipe(heap, length);
    return plaintext;
  }

  /** Copies key, nonce, associated data and message into the workspace. */
  private load(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, bytes: Uint8Array): void {
    const heap = this.lib.HEAPU8;
    heap.set(key, this.key);
    heap.set(nonce, this.nonce);
    if (ad.length > 0) heap.set(ad, this.ad);
    heap.set(bytes, this.message);
  }

  /** Zeroes the key and, for an opened message, the plaintext left in the workspace. */
  private wipe(heap: Uint8Array, plaintextLength: number): void {
    heap.fill(0, this.key, this.key + KEY);
    if (plaintextLength > 0) heap.fill(0, this.message, this.message + plaintextLength);
  }
}

let workspace: SodiumChaCha | undefined;

/**
 * The process's workspace for messages up to `SODIUM_MESSAGE_MAX` bytes, made on first use (after
 * `sodiumReady()`). Callers send longer messages, or associated data over `SODIUM_AD_MAX`, another way.
 */
export function sodiumChaCha(): SodiumChaCha {
  workspace ??= new SodiumChaCha(SODIUM_MESSAGE_MAX);
  return workspace;
}
