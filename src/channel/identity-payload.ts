import { SecureChannelError } from './errors';
import { readU32, writeU32 } from './frames';

/**
 * The identity payload a side writes inside one encrypted handshake message (docs/PROTOCOL.md section 4.2):
 *
 * ```
 * identity-payload = version:u8 flags:u8 [identity-key:32 binding:64] max-message-size:u32
 *                    rekey-interval:u32 extension*
 * extension        = type:u8 length:u16 value[length]
 * ```
 *
 * A new field goes in as an extension (a reader skips types it does not know), so older readers keep
 * working; a change to the fixed part takes a new `version`, which a reader refuses if it does not know it.
 */
export const IDENTITY_PAYLOAD_VERSION = 1;

/** Extension types; each new one goes here (a reader ignores those it does not know). */
export const IdentityExtension = {
  /** `0x01`: the initiator asks for a reliable channel (docs/PROTOCOL.md 4.5). */
  DELIVERY: 1,
  /**
   * `0x02`: the credentials the sender presents about its identity (docs/PROTOCOL.md 6.3):
   * `count:u8 (length:u16 credential)*`. A reader that does not know credentials skips it.
   */
  CREDENTIALS: 2,
} as const;

/** `flags` bits. */
const HAS_IDENTITY = 0x01;
const KNOWN_FLAGS = HAS_IDENTITY;
/** The fixed part: version, flags and the two announced limits, with or without the identity proof. */
const ANONYMOUS_LENGTH = 2 + 4 + 4;
const IDENTIFIED_LENGTH = 2 + 32 + 64 + 4 + 4;
const EXTENSION_HEADER = 3;

/** What each side announces about the frames it will receive and send. */
export interface ChannelParameters {
  /** The largest message (routes and body) it accepts. */
  readonly maxMessageSize: number;
  /** It rekeys its sending key every this many frames. */
  readonly rekeyInterval: number;
  /** The initiator asks for a reliable channel (extension `DELIVERY`). */
  readonly reliable?: boolean;
}

/** The identity proof: an Ed25519 identity key and its signature over the Noise static key. */
export interface IdentityProof {
  readonly identityKey: Uint8Array;
  readonly binding: Uint8Array;
}

/** An identity payload, decoded. */
export interface IdentityPayload {
  /** Undefined for an anonymous (NK) initiator. */
  readonly proof: IdentityProof | undefined;
  readonly parameters: ChannelParameters;
  /** Extensions by type (each at most once). Views into the payload. */
  readonly extensions: ReadonlyMap<number, Uint8Array>;
}

/** Encodes an identity payload. */
export function encodeIdentityPayload(payload: IdentityPayload): Uint8Array {
  const { proof, parameters } = payload;
  const extensions = new Map(payload.extensions);
  if (parameters.reliable === true) extensions.set(IdentityExtension.DELIVERY, Uint8Array.of(1));
  let length = proof === undefined ? ANONYMOUS_LENGTH : IDENTIFIED_LENGTH;
  for (const value of extensions.values()) length += EXTENSION_HEADER + value.length;
  const out = new Uint8Array(length);
  out[0] = IDENTITY_PAYLOAD_VERSION;
  let at = 2;
  if (proof !== undefined) {
    out[1] = HAS_IDENTITY;
    out.set(proof.identityKey, 2);
    out.set(proof.binding, 34);
    at = 98;
  }
  writeU32(out, at, parameters.maxMessageSize);
  writeU32(out, at + 4, parameters.rekeyInterval);
  at += 8;
  for (const [type, value] of extensions) {
    if (value.length > 0xffff)
      throw new SecureChannelError('TOO_LARGE', `identity extension ${type} too long`);
    out[at] = type;
    out[at + 1] = value.length >>> 8;
    out[at + 2] = value.length & 0xff;
    out.set(value, at + EXTENSION_HEADER);
    at += EXTENSION_HEADER + value.length;
  }
  return out;
}

/**
 * Decodes an identity payload; throws `HANDSHAKE_FAILED` ("malformed identity payload") for an unknown
 * version or flag, a truncated or overlong one, a repeated extension, or a rekey interval of 0.
 */
export function decodeIdentityPayload(bytes: Uint8Array): IdentityPayload {
  if (bytes.length < ANONYMOUS_LENGTH || bytes[0] !== IDENTITY_PAYLOAD_VERSION) throw malformed();
  const flags = bytes[1]!;
  if ((flags & ~KNOWN_FLAGS) !== 0) throw malformed();
  const identified = (flags & HAS_IDENTITY) !== 0;
  let at = identified ? IDENTIFIED_LENGTH : ANONYMOUS_LENGTH;
  if (bytes.length < at) throw malformed();
  const proof = identified ? { identityKey: bytes.slice(2, 34), binding: bytes.subarray(34, 98) } : undefined;
  const parameters = { maxMessageSize: readU32(bytes, at - 8), rekeyInterval: readU32(bytes, at - 4) };
  if (parameters.rekeyInterval === 0) throw malformed();
  const extensions = new Map<number, Uint8Array>();
  while (at < bytes.length) {
    if (at + EXTENSION_HEADER > bytes.length) throw malformed();
    const type = bytes[at]!;
    const end = at + EXTENSION_HEADER + ((bytes[at + 1]! << 8) | bytes[at + 2]!);
    if (end > bytes.length || extensions.has(type)) throw malformed();
    extensions.set(type, bytes.subarray(at + EXTENSION_HEADER, end));
    at = end;
  }
  const reliable = extensions.get(IdentityExtension.DELIVERY)?.[0] === 1;
  return { proof, parameters: reliable ? { ...parameters, reliable } : parameters, extensions };
}

function malformed(): SecureChannelError {
  return new SecureChannelError('HANDSHAKE_FAILED', 'handshake failed: malformed identity payload');
}
