import type { CipherState } from '../noise';
import { SecureChannelError } from './errors';

const EMPTY = new Uint8Array(0);
/** Nonces stay below 2^53 so they are exact JavaScript numbers; no channel ever sends that many frames. */
const MAX_NONCE = Number.MAX_SAFE_INTEGER;
/**
 * How many epochs a received frame may be ahead of the current one. Deriving a later epoch's key costs one
 * REKEY per epoch, so this bounds the work a forged frame can cause; a genuine sender is further ahead only
 * after this many whole epochs of frames were lost.
 */
export const MAX_EPOCH_SKIP = 16;

/**
 * The sending key of one direction. Frame n is encrypted under the key of epoch floor(n / interval), where
 * epoch 0 is the key from Split() and each next epoch's key is REKEY(previous) (Noise spec 11.3), so the
 * receiver can derive the key of any frame from its nonce alone.
 */
export class SendKeys {
  private n = 0;
  private epoch = 0;

  constructor(
    private readonly cipher: CipherState,
    readonly interval: number,
  ) {}

  /**
   * Encrypts the next frame's plaintext (`plaintext || more`, with `more`) into `out` at `offset`
   * (ciphertext || tag, 16 bytes more than the plaintext); returns its nonce.
   */
  encryptInto(plaintext: Uint8Array, out: Uint8Array, offset: number, more?: Uint8Array): number {
    const nonce = this.nextNonce();
    this.cipher.encryptWithNonceInto(nonce, EMPTY, plaintext, out, offset, more);
    this.n = nonce + 1;
    return nonce;
  }

  /**
   * `encryptInto` giving ciphertext || tag as the AEAD's own parts, not copied into a frame (see
   * `CipherState.encryptWithNonceParts`); returns its nonce beside them.
   */
  encryptParts(plaintext: Uint8Array, more?: Uint8Array): { nonce: number; parts: Uint8Array[] } {
    const nonce = this.nextNonce();
    const parts = this.cipher.encryptWithNonceParts(nonce, EMPTY, plaintext, more);
    this.n = nonce + 1;
    return { nonce, parts };
  }

  /** The next frame's nonce, rekeying first when it starts an epoch. */
  private nextNonce(): number {
    const nonce = this.n;
    if (nonce >= MAX_NONCE) throw new SecureChannelError('CLOSED', 'the channel used up its nonces');
    // Nonces are sequential, so the epoch advances by at most one per frame.
    if (nonce - this.epoch * this.interval >= this.interval) {
      this.cipher.rekey();
      this.epoch++;
    }
    return nonce;
  }

  /** Wipes the key. */
  destroy(): void {
    this.cipher.destroy();
  }
}

/**
 * The receiving keys of one direction: the current epoch's and the previous one's, so that frames
 * reordered across an epoch boundary still decrypt. A frame of a later epoch is tried under a tentatively
 * derived key, committed only if the frame authenticates.
 */
export class ReceiveKeys {
  private epoch = 0;
  private previous: CipherState | undefined;

  constructor(
    private current: CipherState,
    readonly interval: number,
  ) {}

  /**
   * Decrypts the frame with nonce `n`. Throws `TOO_OLD` for an epoch before the previous one, `MALFORMED`
   * for one implausibly far ahead, and the cipher's `DECRYPT_FAILED` when it does not authenticate.
   */
  decrypt(n: number, ciphertext: Uint8Array): Uint8Array {
    const epoch = Math.floor(n / this.interval);
    if (epoch === this.epoch) return this.current.decryptWithNonce(n, EMPTY, ciphertext);
    if (epoch < this.epoch) {
      if (epoch === this.epoch - 1 && this.previous !== undefined) {
        return this.previous.decryptWithNonce(n, EMPTY, ciphertext);
      }
      throw new SecureChannelError('TOO_OLD', 'frame of an epoch whose key is gone');
    }
    if (epoch - this.epoch > MAX_EPOCH_SKIP) {
      throw new SecureChannelError('MALFORMED', 'frame too many epochs ahead');
    }
    // k(e) = REKEY^(e - current)(k(current)), worked on copies and committed only on success.
    let before = this.current.clone();
    let after = before.clone();
    after.rekey();
    for (let e = this.epoch + 1; e < epoch; e++) {
      before.destroy();
      before = after;
      after = after.clone();
      after.rekey();
    }
    let plaintext: Uint8Array;
    try {
      plaintext = after.decryptWithNonce(n, EMPTY, ciphertext);
    } catch (error) {
      before.destroy();
      after.destroy();
      throw error;
    }
    this.previous?.destroy();
    this.current.destroy();
    this.previous = before;
    this.current = after;
    this.epoch = epoch;
    return plaintext;
  }

  /** Wipes the keys. */
  destroy(): void {
    this.previous?.destroy();
    this.current.destroy();
  }
}
