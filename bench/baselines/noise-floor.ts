/**
 * Baseline of `channel.handshake`: the Noise_XX_25519_ChaChaPoly_SHA256 handshake written with nothing but
 * node:crypto calls, each primitive in its fastest node:crypto form (bench/noise-primitives.ts measures
 * them): X25519 keys as KeyObjects (`generateKeyPairSync`, each received public key imported once as a JWK,
 * `diffieHellman`), SHA-256 with `createHash`, HMAC with `createHmac`, ChaCha20-Poly1305 with
 * `createCipheriv`. No validation beyond what decryption does, no copy-then-commit, no wiping: the least a
 * JavaScript XX handshake on node:crypto costs, so `noise_xx`'s ratio to it is the Noise core's distance
 * from its primitives. Its messages are real Noise messages (`checkFloorInterop` runs it against
 * `HandshakeState`).
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  diffieHellman,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { nodeX25519 } from '../../src/crypto/x25519';
import { HandshakeState, staticKeyFromPrivateKey } from '../../src/noise';

const PROTOCOL_NAME = 'Noise_XX_25519_ChaChaPoly_SHA256'; // exactly 32 bytes: h = the name, unhashed
const EMPTY = Buffer.alloc(0);
const ONE = Buffer.of(1);
const TWO = Buffer.of(2);

/** An X25519 key pair as node:crypto holds it, with the raw public key a Noise message carries. */
export interface FloorKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: Buffer;
}

/**
 * A fresh X25519 key pair: `generateKeyPairSync` with the public key as a JWK, through `nodeX25519` (which
 * says why it must not be exported from the key object afterwards).
 */
export function floorKeyPair(): FloorKeyPair {
  const { privateKey, publicKey } = nodeX25519.generateKeyPair();
  return { privateKey: privateKey as KeyObject, publicKey: Buffer.from(publicKey) };
}

/** A received raw X25519 public key as a KeyObject (the cheapest import node:crypto has: JWK). */
function importPublic(raw: Buffer): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/** One side of the handshake: SymmetricState and HandshakeState in one, for XX only. */
class FloorSide {
  private h = Buffer.from(PROTOCOL_NAME, 'ascii');
  private ck = this.h;
  private k: Buffer | undefined;
  private n = 0;
  private e: FloorKeyPair | undefined;
  private re: KeyObject | undefined;
  private rs: KeyObject | undefined;

  constructor(private readonly s: FloorKeyPair) {
    this.mixHash(EMPTY); // the (empty) prologue
  }

  private mixHash(data: Buffer): void {
    this.h = createHash('sha256').update(this.h).update(data).digest();
  }

  private mixKey(privateKey: KeyObject, publicKey: KeyObject): void {
    const ikm = diffieHellman({ privateKey, publicKey });
    const temp = createHmac('sha256', this.ck).update(ikm).digest();
    this.ck = createHmac('sha256', temp).update(ONE).digest();
    this.k = createHmac('sha256', temp).update(this.ck).update(TWO).digest();
    this.n = 0;
  }

  private nonce(): Buffer {
    const nonce = Buffer.alloc(12);
    nonce.writeUInt32LE(this.n++, 4);
    return nonce;
  }

  private encryptAndHash(plaintext: Buffer): Buffer {
    if (this.k === undefined) {
      this.mixHash(plaintext);
      return plaintext;
    }
    const cipher = createCipheriv('chacha20-poly1305', this.k, this.nonce(), { authTagLength: 16 });
    cipher.setAAD(this.h, { plaintextLength: plaintext.length });
    const body = cipher.update(plaintext);
    cipher.final();
    const ciphertext = Buffer.concat([body, cipher.getAuthTag()]);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  private decryptAndHash(ciphertext: Buffer): Buffer {
    if (this.k === undefined) {
      this.mixHash(ciphertext);
      return ciphertext;
    }
    const length = ciphertext.length - 16;
    const decipher = createDecipheriv('chacha20-poly1305', this.k, this.nonce(), { authTagLength: 16 });
    decipher.setAuthTag(ciphertext.subarray(length));
    decipher.setAAD(this.h, { plaintextLength: length });
    const plaintext = decipher.update(ciphertext.subarray(0, length));
    decipher.final(); // throws if it does not authenticate
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** -> e (initiator). */
  writeFirst(): Buffer {
    const e = (this.e = floorKeyPair());
    this.mixHash(e.publicKey);
    return Buffer.concat([e.publicKey, this.encryptAndHash(EMPTY)]);
  }

  /** -> e (responder). */
  readFirst(message: Buffer): void {
    const re = message.subarray(0, 32);
    this.re = importPublic(re);
    this.mixHash(re);
    this.decryptAndHash(message.subarray(32));
  }

  /** <- e, ee, s, es (responder). */
  writeSecond(): Buffer {
    const e = (this.e = floorKeyPair());
    this.mixHash(e.publicKey);
    this.mixKey(e.privateKey, this.re!);
    const s = this.encryptAndHash(this.s.publicKey);
    this.mixKey(this.s.privateKey, this.re!);
    return Buffer.concat([e.publicKey, s, this.encryptAndHash(EMPTY)]);
  }

  /** <- e, ee, s, es (initiator). */
  readSecond(message: Buffer): void {
    const re = message.subarray(0, 32);
    this.re = importPublic(re);
    this.mixHash(re);
    this.mixKey(this.e!.privateKey, this.re);
    this.rs = importPublic(this.decryptAndHash(message.subarray(32, 80)));
    this.mixKey(this.e!.privateKey, this.rs);
    this.decryptAndHash(message.subarray(80));
  }

  /** -> s, se (initiator). */
  writeThird(): Buffer {
    const s = this.encryptAndHash(this.s.publicKey);
    this.mixKey(this.s.privateKey, this.re!);
    return Buffer.concat([s, this.encryptAndHash(EMPTY)]);
  }

  /** -> s, se (responder). */
  readThird(message: Buffer): void {
    this.rs = importPublic(this.decryptAndHash(message.subarray(0, 48)));
    this.mixKey(this.e!.privateKey, this.rs);
    this.decryptAndHash(message.subarray(48));
  }

  /** Split(): the two transport keys (c1, c2), and the handshake hash. */
  split(): { k1: Buffer; k2: Buffer; h: Buffer } {
    const temp = createHmac('sha256', this.ck).update(EMPTY).digest();
    const k1 = createHmac('sha256', temp).update(ONE).digest();
    const k2 = createHmac('sha256', temp).update(k1).update(TWO).digest();
    return { k1, k2, h: this.h };
  }
}

/** One whole XX handshake between two static keys; returns the initiator's transport keys. */
export function floorHandshake(si: FloorKeyPair, sr: FloorKeyPair): { k1: Buffer; k2: Buffer } {
  const initiator = new FloorSide(si);
  const responder = new FloorSide(sr);
  responder.readFirst(initiator.writeFirst());
  initiator.readSecond(responder.writeSecond());
  responder.readThird(initiator.writeThird());
  responder.split();
  return initiator.split();
}

/**
 * Runs the floor's initiator against a `HandshakeState` responder and throws unless both end with the same
 * handshake hash and transport keys: the baseline does the real handshake, not a cheaper look-alike.
 */
export async function checkFloorInterop(): Promise<void> {
  const si = floorKeyPair();
  const sr = await staticKeyFromPrivateKey(randomBytes(32));
  const initiator = new FloorSide(si);
  const responder = await HandshakeState.create({ initiator: false, s: sr });
  await responder.readMessage(initiator.writeFirst());
  initiator.readSecond(Buffer.from(await responder.writeMessage()));
  await responder.readMessage(initiator.writeThird());
  const floor = initiator.split();
  const hash = responder.handshakeHash;
  const { receive } = responder.split();
  const probe = receive.clone();
  probe.initializeKey(floor.k1);
  const sealed = probe.encryptWithNonce(0, EMPTY, ONE);
  if (!floor.h.equals(hash) || receive.decryptWithNonce(0, EMPTY, sealed)[0] !== 1) {
    throw new Error('the noise_floor handshake does not interoperate with HandshakeState');
  }
}
