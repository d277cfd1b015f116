import { inspect } from 'node:util';
import { nodeCrypto, sodiumReady, type CryptoBackend, type X25519KeyPair } from '../crypto';
import { TAG_LENGTH } from './cipher-functions';
import { CipherState, MAX_MESSAGE_LENGTH } from './cipher-state';
import { NoiseError } from './errors';
import { dhOf, required, type DhKeys, type RemoteKey } from './dh-tokens';
import { checkHandshakeKeys, type HandshakeOptions } from './handshake-options';
import type { HandshakePattern } from './handshake-patterns';
import { DEFAULT_PROTOCOL_NAME, parseProtocolName } from './protocol-name';
import type { NoiseStaticKey } from './static-key';
import { SymmetricState } from './symmetric-state';
import { DH_LEN, x25519 } from './x25519';

/** Who acts next: this side writes, this side reads, or the handshake is over (call `split()`). */
export type HandshakeTurn = 'write' | 'read' | 'complete';

/** The transport ciphers of one side after the handshake: one per direction. */
export interface TransportCiphers {
  readonly send: CipherState;
  readonly receive: CipherState;
}

/** The mutable part of a handshake, worked on as a copy and committed only when a message succeeds. */
interface Working {
  readonly ss: SymmetricState;
  e: X25519KeyPair | undefined;
  re: RemoteKey | undefined;
  rs: RemoteKey | undefined;
}

const EMPTY = new Uint8Array(0);

/**
 * A Noise HandshakeState (spec section 5.3) for the XX, IK and NK patterns: one `writeMessage` and one
 * `readMessage` that walk the pattern's tokens. Each step works on a copy of the state and commits it only
 * when the whole message succeeded, so a tampered or truncated message throws a `NoiseError` and leaves the
 * handshake exactly as it was. Steps are async because a vault-held static key may answer DH
 * asynchronously; one step at a time, in turn, or `OUT_OF_TURN`.
 */
export class HandshakeState {
  private ss: SymmetricState;
  // The ephemeral private key is held by the backend (Node's: an OpenSSL key object): it cannot be wiped
  // from JavaScript, only dropped (OpenSSL clears it when the object is collected).
  private e: X25519KeyPair | undefined;
  private re: RemoteKey | undefined;
  private rs: RemoteKey | undefined;
  private injectedE: Uint8Array | undefined;
  private index = 0; // the next message pattern of `pattern.messages`
  private busy = false;
  private finished = false; // split() or destroy() has run: the state holds no secrets any more

  private constructor(
    /** The full protocol name this handshake runs. */
    readonly protocolName: string,
    /** Whether this side sent the first message. */
    readonly initiator: boolean,
    private readonly pattern: HandshakePattern,
    private readonly crypto: CryptoBackend,
    ss: SymmetricState,
    private readonly s: NoiseStaticKey | undefined,
    rs: Uint8Array | undefined,
    injectedE: Uint8Array | undefined,
  ) {
    this.ss = ss;
    this.rs = rs === undefined ? undefined : { bytes: rs, imported: undefined };
    this.injectedE = injectedE;
  }

  /** What printouts show: the protocol, the side and progress; never a key or the chaining key. */
  toJSON(): { protocolName: string; initiator: boolean; message: number; finished: boolean } {
    return {
      protocolName: this.protocolName,
      initiator: this.initiator,
      message: this.index,
      finished: this.finished,
    };
  }

  [inspect.custom](): string {
    return `HandshakeState ${JSON.stringify(this.toJSON())}`;
  }

  /**
   * Initialize(handshake_pattern, initiator, prologue, s, e, rs, re) (spec 5.3): h and ck from the protocol
   * name, MixHash(prologue), then MixHash of each pre-message public key, the initiator's first. Throws
   * `UNSUPPORTED_PROTOCOL`, `MISSING_KEY` (a key the pattern needs from this side) or `INVALID_KEY`.
   */
  static async create(options: HandshakeOptions): Promise<HandshakeState> {
    await sodiumReady();
    const crypto = options.crypto ?? nodeCrypto;
    const protocol = parseProtocolName(options.protocolName ?? DEFAULT_PROTOCOL_NAME, crypto);
    const { pattern } = protocol;
    const { initiator, s, rs, e } = options;
    checkHandshakeKeys(pattern, options);
    const ss = SymmetricState.initialize(protocol.name, protocol.hash, protocol.cipher);
    ss.mixHash(options.prologue ?? EMPTY);
    // Pre-messages: the initiator's keys are hashed first, then the responder's (spec 7.1).
    for (const _token of pattern.initiatorPreMessages) ss.mixHash(initiator ? s!.publicKey : rs!);
    for (const _token of pattern.responderPreMessages) ss.mixHash(initiator ? rs! : s!.publicKey);

    return new HandshakeState(
      protocol.name,
      initiator,
      pattern,
      crypto,
      ss,
      s,
      rs === undefined ? undefined : Uint8Array.from(rs),
      e === undefined ? undefined : Uint8Array.from(e),
    );
  }

  /** Whose move it is. */
  get turn(): HandshakeTurn {
    if (this.index >= this.pattern.messages.length) return 'complete';
    return (this.index % 2 === 0) === this.initiator ? 'write' : 'read';
  }

  /** Whether every handshake message has been written or read; `split()` is next. */
  get isComplete(): boolean {
    return this.index >= this.pattern.messages.length;
  }

  /** The handshake hash h (a copy). Both sides hold the same value once complete: use it for channel binding. */
  get handshakeHash(): Uint8Array {
    return this.ss.handshakeHash;
  }

  /** The peer's static public key (a copy), once known: in advance (IK, NK) or received (XX). */
  get remoteStaticPublicKey(): Uint8Array | undefined {
    return this.rs === undefined ? undefined : Uint8Array.from(this.rs.bytes);
  }

  /**
   * WriteMessage(payload, message_buffer) (spec 5.3): walks the next message pattern and appends
   * EncryptAndHash(payload). Throws `OUT_OF_TURN`, `HANDSHAKE_COMPLETE` or `MESSAGE_TOO_LARGE` (the message
   * would exceed 65535 bytes); on any error nothing is committed.
   */
  async writeMessage(payload: Uint8Array = EMPTY): Promise<Uint8Array> {
    this.enter('write');
    const w = this.working();
    let fresh: X25519KeyPair | undefined; // an ephemeral made by this attempt
    try {
      if (payload.length > MAX_MESSAGE_LENGTH) {
        // Fail before any DH or hashing; the exact bound (tokens and tags included) is checked below.
        throw new NoiseError('MESSAGE_TOO_LARGE', `a ${payload.length}-byte payload exceeds the Noise limit`);
      }
      const parts: Uint8Array[] = [];
      for (const token of this.pattern.messages[this.index]!) {
        switch (token) {
          case 'e': {
            // e: e = GENERATE_KEYPAIR() (or the injected one); append e.public_key; MixHash(e.public_key)
            fresh =
              this.injectedE === undefined
                ? x25519.generateKeyPair(this.crypto)
                : x25519.keyPairFromPrivateKey(this.crypto, this.injectedE);
            w.e = fresh;
            parts.push(fresh.publicKey);
            w.ss.mixHash(fresh.publicKey);
            break;
          }
          case 's':
            // s: append EncryptAndHash(s.public_key)
            parts.push(w.ss.encryptAndHash(required(this.s, 's').publicKey));
            break;
          default: {
            const output = dhOf(token, this.keysOf(w));
            this.mixDh(w, output instanceof Uint8Array ? output : await output);
          }
        }
      }
      // payload: append EncryptAndHash(payload)
      parts.push(w.ss.encryptAndHash(payload));
      const message = concat(parts);
      if (message.length > MAX_MESSAGE_LENGTH) {
        throw new NoiseError('MESSAGE_TOO_LARGE', `a ${message.length}-byte handshake message exceeds 65535`);
      }
      this.commit(w);
      if (fresh !== undefined) this.clearInjectedE();
      fresh = undefined;
      return message;
    } catch (error) {
      w.ss.destroy();
      throw error;
    } finally {
      this.busy = false;
    }
  }

  /**
   * ReadMessage(message, payload_buffer) (spec 5.3): walks the next message pattern over `message` and
   * returns DecryptAndHash of the rest, the payload. Throws `OUT_OF_TURN`, `HANDSHAKE_COMPLETE`,
   * `BAD_MESSAGE` (too short or too long for its tokens), `DECRYPT_FAILED` or `INVALID_KEY` (a low-order
   * public key); on any error nothing is committed and the state can still read the genuine message.
   */
  async readMessage(message: Uint8Array): Promise<Uint8Array> {
    this.enter('read');
    const w = this.working();
    try {
      if (message.length > MAX_MESSAGE_LENGTH) throw badMessage();
      let offset = 0;
      for (const token of this.pattern.messages[this.index]!) {
        switch (token) {
          case 'e':
            // e: re = the next DHLEN bytes; MixHash(re.public_key)
            if (message.length - offset < DH_LEN) throw badMessage();
            w.re = { bytes: message.slice(offset, offset + DH_LEN), imported: undefined };
            offset += DH_LEN;
            w.ss.mixHash(w.re.bytes);
            break;
          case 's': {
            // s: rs = DecryptAndHash(the next DHLEN + 16 bytes if k is set, else DHLEN bytes)
            const length = DH_LEN + (w.ss.hasKey() ? TAG_LENGTH : 0);
            if (message.length - offset < length) throw badMessage();
            const ciphertext = message.subarray(offset, offset + length);
            const rs = w.ss.decryptAndHash(ciphertext);
            // without a key it is a view of the caller's bytes
            w.rs = { bytes: rs === ciphertext ? rs.slice() : rs, imported: undefined };
            offset += length;
            break;
          }
          default: {
            const output = dhOf(token, this.keysOf(w));
            this.mixDh(w, output instanceof Uint8Array ? output : await output);
          }
        }
      }
      // payload: DecryptAndHash(the remaining bytes)
      const rest = message.subarray(offset);
      if (w.ss.hasKey() && rest.length < TAG_LENGTH) throw badMessage();
      const payload = w.ss.decryptAndHash(rest);
      this.commit(w);
      return payload === rest ? rest.slice() : payload;
    } catch (error) {
      w.ss.destroy();
      throw error;
    } finally {
      this.busy = false;
    }
  }

  /**
   * Split() (spec 5.2), oriented for this side: the initiator sends with c1 and receives with c2, the
   * responder the reverse. Callable once, after the last message; it wipes the handshake's secrets (ck, k)
   * and drops the ephemeral private key. Throws `OUT_OF_TURN` before completion or when called again.
   */
  split(): TransportCiphers {
    if (this.finished || this.busy || !this.isComplete) {
      throw new NoiseError(
        'OUT_OF_TURN',
        this.finished
          ? 'the handshake state was already split or destroyed'
          : 'the handshake is not complete',
      );
    }
    const [c1, c2] = this.ss.split();
    this.destroy();
    return this.initiator ? { send: c1, receive: c2 } : { send: c2, receive: c1 };
  }

  /**
   * Wipes every secret this state holds (for an abandoned handshake) and drops the ephemeral key object;
   * it accepts no further steps.
   */
  destroy(): void {
    this.ss.destroy();
    this.e = undefined;
    this.clearInjectedE();
    this.index = this.pattern.messages.length;
    this.finished = true;
  }

  private enter(action: 'write' | 'read'): void {
    if (this.busy) throw new NoiseError('OUT_OF_TURN', 'another handshake step is still in progress');
    const turn = this.turn;
    if (turn === 'complete') throw new NoiseError('HANDSHAKE_COMPLETE', 'the handshake is already complete');
    if (turn !== action) {
      throw new NoiseError('OUT_OF_TURN', `it is this side's turn to ${turn}, not to ${action}`);
    }
    this.busy = true;
  }

  private working(): Working {
    return { ss: this.ss.clone(), e: this.e, re: this.re, rs: this.rs };
  }

  private commit(w: Working): void {
    this.ss.destroy();
    this.ss = w.ss;
    this.e = w.e;
    this.re = w.re;
    this.rs = w.rs;
    this.index += 1;
  }

  private clearInjectedE(): void {
    this.injectedE?.fill(0);
    this.injectedE = undefined;
  }

  /** The keys DH tokens name, as of the working copy `w`. */
  private keysOf(w: Working): DhKeys {
    return { crypto: this.crypto, initiator: this.initiator, s: this.s, e: w.e, re: w.re, rs: w.rs };
  }

  /** MixKey(dh output), then wipe the output. */
  private mixDh(w: Working, output: Uint8Array): void {
    w.ss.mixKey(output);
    output.fill(0);
  }
}

function badMessage(): NoiseError {
  return new NoiseError('BAD_MESSAGE', 'handshake message has the wrong length for its pattern');
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
