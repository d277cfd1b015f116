import { inspect } from 'node:util';
import { CipherFunction, TAG_LENGTH } from './cipher-functions';
import { NoiseError } from './errors';

/** The largest Noise message, handshake or transport, in bytes (spec section 3). */
export const MAX_MESSAGE_LENGTH = 65535;

/** The largest plaintext one keyed transport message can carry: the limit minus the AEAD tag. */
export const MAX_PLAINTEXT_LENGTH = MAX_MESSAGE_LENGTH - TAG_LENGTH;

const KEY_LENGTH = 32;
const TWO_32 = 0x1_0000_0000;
const MAX_U32 = 0xffff_ffff;
const MAX_NONCE = 0xffff_ffff_ffff_ffffn; // 2^64-1, reserved: never used to encrypt a message
const ZEROS_32 = new Uint8Array(32);
const EMPTY = new Uint8Array(0);

/**
 * A Noise CipherState (spec section 5.1): a key `k` and a 64-bit nonce counter `n`. During the handshake
 * it encrypts the static key and payloads; after `split()` each side holds one per direction for the
 * transport phase. Everything here is synchronous and allocates only the output: the counter is kept as
 * two uint32 halves and the 12-byte nonce buffer is reused. Besides the spec's counter-driven
 * `encryptWithAd`/`decryptWithAd` it offers explicit-nonce variants for a channel that sends its nonce and
 * accepts reordered messages (it must then reject replays itself). Needs `sodiumReady()` to have resolved
 * (any `HandshakeState.create` has done that).
 */
export class CipherState {
  private k: Uint8Array | undefined;
  // n = hi * 2^32 + lo. Two exact uint32 halves instead of a BigInt keep the per-message cost to integer ops.
  private hi = 0;
  private lo = 0;
  private readonly nonceBytes = new Uint8Array(12);
  private readonly nonceView = new DataView(this.nonceBytes.buffer);

  /** A cipher state over `cipher`, keyed with a copy of `k` if given (InitializeKey), n = 0. */
  constructor(
    readonly cipher: CipherFunction,
    k?: Uint8Array,
  ) {
    this.initializeKey(k);
  }

  /** What printouts (`JSON.stringify`, loggers, `util.inspect`) show: whether it has a key, never the key. */
  toJSON(): { cipher: string; hasKey: boolean } {
    return { cipher: this.cipher.name, hasKey: this.k !== undefined };
  }

  [inspect.custom](): string {
    return `CipherState ${JSON.stringify(this.toJSON())}`;
  }

  /** InitializeKey(key): k = a copy of key (or empty), n = 0. The previous key is wiped. */
  initializeKey(key: Uint8Array | undefined): void {
    if (key !== undefined && key.length !== KEY_LENGTH) {
      throw new NoiseError('INVALID_KEY', `a cipher key is ${KEY_LENGTH} bytes, got ${key.length}`);
    }
    this.k?.fill(0);
    this.k = key === undefined ? undefined : Uint8Array.from(key);
    this.hi = 0;
    this.lo = 0;
  }

  /** HasKey(): whether k is set. Without a key, encryption and decryption pass data through (spec 5.1). */
  hasKey(): boolean {
    return this.k !== undefined;
  }

  /** The counter the next `encryptWithAd`/`decryptWithAd` will use. */
  get nonce(): bigint {
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  /**
   * EncryptWithAd(ad, plaintext): ENCRYPT(k, n++, ad, plaintext), or the plaintext itself when there is no
   * key. Throws `NONCE_EXHAUSTED` at n = 2^64-1 and `MESSAGE_TOO_LARGE` past the 65535-byte limit.
   */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const k = this.k;
    if (k === undefined) return checkSize(plaintext, MAX_MESSAGE_LENGTH);
    checkSize(plaintext, MAX_PLAINTEXT_LENGTH);
    if (this.hi === MAX_U32 && this.lo === MAX_U32) throw exhausted();
    this.cipher.formatNonce(this.nonceView, this.hi, this.lo);
    const ciphertext = this.cipher.encrypt(k, this.nonceBytes, ad, plaintext);
    this.increment();
    return ciphertext;
  }

  /**
   * DecryptWithAd(ad, ciphertext): DECRYPT(k, n, ad, ciphertext), then n++ only if it authenticated (spec
   * 5.1: a failed decryption leaves n alone). Without a key the ciphertext is returned as is. Throws
   * `DECRYPT_FAILED` (opaque), `NONCE_EXHAUSTED` or `MESSAGE_TOO_LARGE`.
   */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    const k = this.k;
    checkSize(ciphertext, MAX_MESSAGE_LENGTH);
    if (k === undefined) return ciphertext;
    if (this.hi === MAX_U32 && this.lo === MAX_U32) throw exhausted();
    this.cipher.formatNonce(this.nonceView, this.hi, this.lo);
    const plaintext = this.cipher.decrypt(k, this.nonceBytes, ad, ciphertext);
    this.increment();
    return plaintext;
  }

  /**
   * ENCRYPT(k, n, ad, plaintext) with a caller-chosen nonce, leaving the internal counter alone. The caller
   * must never reuse a nonce under one key. Throws `MISSING_KEY` without a key.
   */
  encryptWithNonce(n: bigint | number, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const k = this.requireKey();
    checkSize(plaintext, MAX_PLAINTEXT_LENGTH);
    this.formatExplicitNonce(n);
    return this.cipher.encrypt(k, this.nonceBytes, ad, plaintext);
  }

  /**
   * `encryptWithNonce` writing ciphertext || tag (plaintext.length + 16 bytes) into `out` at `offset`
   * instead of a new array, so that a caller builds its frame in place. With `more`, the plaintext is
   * `plaintext || more`, taken where each lies (no copy to join them). Same checks and errors.
   */
  encryptWithNonceInto(
    n: bigint | number,
    ad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    offset: number,
    more?: Uint8Array,
  ): void {
    const k = this.requireKey();
    const length = checkedLength(plaintext, more);
    if (offset < 0 || offset + length + TAG_LENGTH > out.length) {
      const room = `no room for ${length + TAG_LENGTH} bytes at offset ${offset}`;
      throw new NoiseError('INVALID_BUFFER', `${room} of a ${out.length}-byte buffer`);
    }
    this.formatExplicitNonce(n);
    this.cipher.encryptInto(k, this.nonceBytes, ad, plaintext, out, offset, more);
  }

  /**
   * `encryptWithNonce` giving ciphertext || tag as the AEAD's own parts, not joined (see
   * `CipherFunction.encryptParts`): a large frame's ciphertext is sent without a copy. Same checks and errors.
   */
  encryptWithNonceParts(
    n: bigint | number,
    ad: Uint8Array,
    plaintext: Uint8Array,
    more?: Uint8Array,
  ): Uint8Array[] {
    const k = this.requireKey();
    checkedLength(plaintext, more);
    this.formatExplicitNonce(n);
    return this.cipher.encryptParts(k, this.nonceBytes, ad, plaintext, more);
  }

  /**
   * DECRYPT(k, n, ad, ciphertext) with the nonce the sender used, leaving the internal counter alone; for
   * reordering transports. Replay protection is the caller's (a window over seen nonces).
   */
  decryptWithNonce(n: bigint | number, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    const k = this.requireKey();
    checkSize(ciphertext, MAX_MESSAGE_LENGTH);
    this.formatExplicitNonce(n);
    return this.cipher.decrypt(k, this.nonceBytes, ad, ciphertext);
  }

  /**
   * Rekey(): k = REKEY(k) = the first 32 bytes of ENCRYPT(k, 2^64-1, zerolen, zeros(32)) (spec 4.2, 11.3).
   * n is unchanged. Both sides must rekey at the same point of their message streams.
   */
  rekey(): void {
    const k = this.requireKey();
    this.cipher.formatNonce(this.nonceView, MAX_U32, MAX_U32);
    const out = this.cipher.encrypt(k, this.nonceBytes, EMPTY, ZEROS_32);
    k.set(out.subarray(0, KEY_LENGTH)); // overwrite in place: the old key is gone with no copy left behind
    out.fill(0);
  }

  /** An independent copy (key and counter), for the handshake's copy-then-commit. */
  clone(): CipherState {
    const copy = new CipherState(this.cipher, this.k);
    copy.hi = this.hi;
    copy.lo = this.lo;
    return copy;
  }

  /** Wipes the key; the state then has no key. */
  destroy(): void {
    this.initializeKey(undefined);
  }

  private increment(): void {
    if (this.lo === MAX_U32) {
      this.lo = 0;
      this.hi += 1;
    } else {
      this.lo += 1;
    }
  }

  private requireKey(): Uint8Array {
    if (this.k === undefined) throw new NoiseError('MISSING_KEY', 'the cipher state has no key');
    return this.k;
  }

  private formatExplicitNonce(n: bigint | number): void {
    let hi: number;
    let lo: number;
    if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) {
      // A safe integer is below 2^53, so it can never be the reserved 2^64-1.
      hi = Math.floor(n / TWO_32);
      lo = n - hi * TWO_32;
    } else {
      const big = toNonce(n);
      if (big === MAX_NONCE) throw exhausted();
      hi = Number(big >> 32n);
      lo = Number(big & 0xffff_ffffn);
    }
    this.cipher.formatNonce(this.nonceView, hi, lo);
  }
}

function toNonce(n: bigint | number): bigint {
  if (typeof n === 'number' ? !Number.isSafeInteger(n) : false) {
    throw new NoiseError('INVALID_NONCE', `a nonce is an integer in 0..2^64-1, got ${n}`);
  }
  const big = BigInt(n);
  if (big < 0n || big > MAX_NONCE) {
    throw new NoiseError('INVALID_NONCE', `a nonce is an integer in 0..2^64-1, got ${n}`);
  }
  return big;
}

function checkSize(data: Uint8Array, limit: number): Uint8Array {
  if (data.length > limit) {
    throw new NoiseError('MESSAGE_TOO_LARGE', `${data.length} bytes exceed the Noise limit of ${limit}`);
  }
  return data;
}

function exhausted(): NoiseError {
  return new NoiseError('NONCE_EXHAUSTED', 'the nonce counter reached 2^64-1; rekey or start a new session');
}

/** The length of `plaintext || more`, or `MESSAGE_TOO_LARGE` over the Noise limit. */
function checkedLength(plaintext: Uint8Array, more: Uint8Array | undefined): number {
  const length = plaintext.length + (more?.length ?? 0);
  if (length > MAX_PLAINTEXT_LENGTH) {
    throw new NoiseError(
      'MESSAGE_TOO_LARGE',
      `${length} bytes exceed the Noise limit of ${MAX_PLAINTEXT_LENGTH}`,
    );
  }
  return length;
}
