import { inspect } from 'node:util';
import { CipherFunction } from './cipher-functions';
import { CipherState } from './cipher-state';
import { HashFunction } from './hash-functions';

const KEY_LENGTH = 32;
const EMPTY = new Uint8Array(0);

/**
 * A Noise SymmetricState (spec section 5.2): the chaining key `ck`, the handshake hash `h`, and the
 * CipherState that encrypts handshake payloads under the key derived so far.
 */
export class SymmetricState {
  private constructor(
    readonly hash: HashFunction,
    readonly cipherState: CipherState,
    private ck: Uint8Array,
    private h: Uint8Array,
  ) {}

  /** What printouts show: the hash and the cipher state's public facts; never ck, h or k. */
  toJSON(): { hash: string; cipherState: { cipher: string; hasKey: boolean } } {
    return { hash: this.hash.name, cipherState: this.cipherState.toJSON() };
  }

  [inspect.custom](): string {
    return `SymmetricState ${JSON.stringify(this.toJSON())}`;
  }

  /**
   * InitializeSymmetric(protocol_name): h = protocol_name zero-padded to HASHLEN if it fits, else
   * HASH(protocol_name); ck = h; k empty.
   */
  static initialize(protocolName: string, hash: HashFunction, cipher: CipherFunction): SymmetricState {
    const name = Buffer.from(protocolName, 'ascii');
    let h: Uint8Array;
    if (name.length <= hash.hashLen) {
      h = new Uint8Array(hash.hashLen);
      h.set(name);
    } else {
      h = hash.hash(name);
    }
    return new SymmetricState(hash, new CipherState(cipher), Uint8Array.from(h), h);
  }

  /** The current handshake hash h (a copy); final, and fit for channel binding, once the handshake ends. */
  get handshakeHash(): Uint8Array {
    return Uint8Array.from(this.h);
  }

  /** Whether a key has been mixed in, i.e. whether payloads and static keys are now encrypted. */
  hasKey(): boolean {
    return this.cipherState.hasKey();
  }

  /** MixKey(ikm): ck, temp_k = HKDF(ck, ikm, 2); InitializeKey(temp_k truncated to 32 bytes). */
  mixKey(ikm: Uint8Array): void {
    const [ck, tempK] = this.hash.hkdf(this.ck, ikm);
    this.ck.fill(0);
    this.ck = ck;
    this.cipherState.initializeKey(tempK.subarray(0, KEY_LENGTH)); // it keeps a copy
    tempK.fill(0);
  }

  /** MixHash(data): h = HASH(h || data). */
  mixHash(data: Uint8Array): void {
    this.h = this.hash.hash(this.h, data);
  }

  /** EncryptAndHash(plaintext): ciphertext = EncryptWithAd(h, plaintext); MixHash(ciphertext). */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipherState.encryptWithAd(this.h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  /** DecryptAndHash(ciphertext): plaintext = DecryptWithAd(h, ciphertext); MixHash(ciphertext). */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipherState.decryptWithAd(this.h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /**
   * Split(): temp_k1, temp_k2 = HKDF(ck, zerolen, 2); c1 and c2 keyed with each truncated to 32 bytes.
   * The initiator sends with c1, the responder with c2.
   */
  split(): [CipherState, CipherState] {
    const [tempK1, tempK2] = this.hash.hkdf(this.ck, EMPTY);
    const cipher = this.cipherState.cipher;
    const c1 = new CipherState(cipher, tempK1.subarray(0, KEY_LENGTH));
    const c2 = new CipherState(cipher, tempK2.subarray(0, KEY_LENGTH));
    tempK1.fill(0);
    tempK2.fill(0);
    return [c1, c2];
  }

  /** An independent copy, for the handshake's copy-then-commit. */
  clone(): SymmetricState {
    // h is only ever replaced (mixHash), never written in place, so the copy may share it.
    return new SymmetricState(this.hash, this.cipherState.clone(), Uint8Array.from(this.ck), this.h);
  }

  /** Wipes ck and k. h is kept: it is public to both peers and serves as the channel binding. */
  destroy(): void {
    this.ck.fill(0);
    this.cipherState.destroy();
  }
}
