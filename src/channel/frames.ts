import { allocate } from '../core/allocate';
import { ByteParts } from '../core/byte-parts';
import { MAX_PLAINTEXT_LENGTH, TAG_LENGTH } from '../noise';
import type { SendKeys } from './epoch-keys';
import { SecureChannelError, type RefusalReason } from './errors';

/**
 * The frames a secure channel sends (docs/PROTOCOL.md section 4). Every frame is the bytes body of one
 * message and starts with its type.
 */
export const FrameType = {
  /** Initiator to listener: `protocol-name-length:u8 protocol-name noise-message-1`. */
  HELLO: 1,
  /** Any further handshake message: `noise-message`. */
  HANDSHAKE: 2,
  /** A plaintext refusal of a handshake in progress: `reason:u8`. Ignored once a channel is open. */
  REFUSED: 3,
  /** Encrypted data: `nonce:u64 ciphertext` (the plaintext starts with a `PayloadKind`). */
  DATA: 4,
  /**
   * To a listener: `id-length:u8 id data-frame`, a DATA frame of a reliable channel whose route was lost, for
   * the responder whose decryptor address is `id` (docs/PROTOCOL.md 4.5).
   */
  RESUME: 5,
} as const;

/** What a decrypted DATA frame holds: its first plaintext byte. Authenticated, unlike the frame type. */
export const PayloadKind = {
  /** The peer checked our identity and completed the handshake: the channel is open. */
  ACCEPTED: 0,
  /** A whole message: a transport message (routes and body) follows. */
  MESSAGE: 1,
  /** A piece of a message too large for one frame: `id:u32 total:u32 index:u32 piece`. */
  CHUNK: 2,
  /** The peer closed the channel. */
  CLOSE: 3,
  /** A liveness probe: the peer heard nothing from us for a while and asks for a PONG. Empty. */
  PING: 4,
  /** The answer to a PING. Empty. */
  PONG: 5,
  /** Reliable channels: `seq:u64 ack:u64` and a MESSAGE or CHUNK plaintext (docs/PROTOCOL.md 4.5). */
  RELIABLE: 6,
  /** Reliable channels: `next:u64`, every sequence number below it arrived. */
  ACK: 7,
  /** The sender's renewed credentials: `count:u8 (length:u16 credential)*` (docs/PROTOCOL.md 6.3). */
  CREDENTIALS: 8,
} as const;

/** Bytes before the ciphertext of a DATA frame: the type and the explicit nonce. */
export const DATA_HEADER_LENGTH = 9;
/** The smallest DATA frame: a header and an AEAD tag over an empty plaintext. */
export const MIN_DATA_FRAME = DATA_HEADER_LENGTH + TAG_LENGTH;
/** Bytes before the piece of a CHUNK plaintext: kind, message id, total length, index. */
export const CHUNK_HEADER_LENGTH = 13;
/** The largest plaintext of one DATA frame, so that its ciphertext is one Noise message (65535 bytes). */
export const MAX_FRAME_PLAINTEXT = MAX_PLAINTEXT_LENGTH;
/** The largest message (routes and body) that travels in one frame. */
export const MAX_SINGLE_FRAME_MESSAGE = MAX_FRAME_PLAINTEXT - 1;
/** The size of every piece of a chunked message but the last (a fixed size lets the receiver check it). */
export const CHUNK_PIECE_LENGTH = MAX_FRAME_PLAINTEXT - CHUNK_HEADER_LENGTH;
/** Bytes of a RELIABLE plaintext before the payload it carries: kind, sequence number, piggybacked ack. */
export const RELIABLE_HEADER_LENGTH = 1 + 8 + 8;
/** Where a RELIABLE plaintext's `ack:u64` is. */
export const RELIABLE_ACK_AT = 1 + 8;
/** The same two limits on a reliable channel, whose payloads come after a RELIABLE header. */
export const RELIABLE_SINGLE_FRAME_MESSAGE = MAX_SINGLE_FRAME_MESSAGE - RELIABLE_HEADER_LENGTH;
export const RELIABLE_PIECE_LENGTH = CHUNK_PIECE_LENGTH - RELIABLE_HEADER_LENGTH;

/** `RESUME id-length:u8 id data-frame`. */
export function encodeResume(id: string, data: Uint8Array): Uint8Array {
  const name = ascii.encode(id);
  const frame = new Uint8Array(2 + name.length + data.length);
  frame[0] = FrameType.RESUME;
  frame[1] = name.length;
  frame.set(name, 2);
  frame.set(data, 2 + name.length);
  return frame;
}

/** Reads a RESUME frame; undefined if malformed. The DATA frame is a view into `frame`. */
export function decodeResume(frame: Uint8Array): { id: string; data: Uint8Array } | undefined {
  if (frame.length < 2 || frame[0] !== FrameType.RESUME) return undefined;
  const end = 2 + frame[1]!;
  if (frame.length <= end || frame[end] !== FrameType.DATA) return undefined;
  try {
    return { id: asciiDecoder.decode(frame.subarray(2, end)), data: frame.subarray(end) };
  } catch {
    return undefined;
  }
}

const refusalCodes: Readonly<Record<RefusalReason, number>> = {
  untrusted: 1,
  'handshake-failed': 2,
  busy: 3,
  timeout: 4,
  'unsupported-protocol': 5,
};
const refusalReasons = new Map<number, RefusalReason>(
  Object.entries(refusalCodes).map(([reason, code]) => [code, reason as RefusalReason]),
);

const ascii = new TextEncoder();
const asciiDecoder = new TextDecoder('utf-8', { fatal: true });

function malformed(what: string): SecureChannelError {
  return new SecureChannelError('MALFORMED', `malformed ${what} frame`);
}

/** `HELLO protocol-name-length:u8 protocol-name message`. */
export function encodeHello(protocolName: string, message: Uint8Array): Uint8Array {
  const name = ascii.encode(protocolName);
  if (name.length > 255) throw new SecureChannelError('UNSUPPORTED_PROTOCOL', 'protocol name too long');
  const frame = new Uint8Array(2 + name.length + message.length);
  frame[0] = FrameType.HELLO;
  frame[1] = name.length;
  frame.set(name, 2);
  frame.set(message, 2 + name.length);
  return frame;
}

/** Reads a HELLO frame; throws `MALFORMED`. The message is a view into `frame`. */
export function decodeHello(frame: Uint8Array): { protocolName: string; message: Uint8Array } {
  if (frame.length < 2 || frame[0] !== FrameType.HELLO) throw malformed('hello');
  const length = frame[1]!;
  if (frame.length < 2 + length) throw malformed('hello');
  let protocolName: string;
  try {
    protocolName = asciiDecoder.decode(frame.subarray(2, 2 + length));
  } catch (cause) {
    throw new SecureChannelError('MALFORMED', 'malformed hello frame', { cause });
  }
  return { protocolName, message: frame.subarray(2 + length) };
}

/** `HANDSHAKE message`. */
export function encodeHandshake(message: Uint8Array): Uint8Array {
  const frame = new Uint8Array(1 + message.length);
  frame[0] = FrameType.HANDSHAKE;
  frame.set(message, 1);
  return frame;
}

/** `REFUSED reason:u8`. */
export function encodeRefused(reason: RefusalReason): Uint8Array {
  return Uint8Array.of(FrameType.REFUSED, refusalCodes[reason]);
}

/** The reason of a REFUSED frame; an unknown or missing code reads as `handshake-failed`. */
export function decodeRefused(frame: Uint8Array): RefusalReason {
  return refusalReasons.get(frame[1] ?? 0) ?? 'handshake-failed';
}

/** Writes `value` (an integer below 2^53) as a big-endian u64 at `offset`. */
export function writeU64(out: Uint8Array, offset: number, value: number): void {
  const hi = Math.floor(value / 0x1_0000_0000);
  writeU32(out, offset, hi);
  writeU32(out, offset + 4, value - hi * 0x1_0000_0000);
}

/** Reads a big-endian u64 at `offset`; -1 if it is 2^53 or more (no sender ever gets there). */
export function readU64(bytes: Uint8Array, offset: number): number {
  const hi = readU32(bytes, offset);
  if (hi > 0x1f_ffff) return -1;
  return hi * 0x1_0000_0000 + readU32(bytes, offset + 4);
}

export function writeU32(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value >>> 24;
  out[offset + 1] = (value >>> 16) & 0xff;
  out[offset + 2] = (value >>> 8) & 0xff;
  out[offset + 3] = value & 0xff;
}

export function readU32(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>>
    0
  );
}

/**
 * The plaintext of the frame being built. Encryption is synchronous and never keeps its input, so one buffer
 * serves every channel of the process: no plaintext is allocated per message.
 */
export const scratch = allocate(MAX_FRAME_PLAINTEXT);

/** `DATA nonce:u64 ciphertext` for the next nonce of `keys`, sealed into one buffer after its header. */
export function dataFrame(keys: SendKeys, plaintext: Uint8Array, more?: Uint8Array): Uint8Array {
  const length = plaintext.length + (more?.length ?? 0);
  const frame = allocate(DATA_HEADER_LENGTH + length + TAG_LENGTH);
  const nonce = keys.encryptInto(plaintext, frame, DATA_HEADER_LENGTH, more);
  frame[0] = FrameType.DATA;
  writeU64(frame, 1, nonce);
  return frame;
}

/**
 * `dataFrame`, but from `PARTS_MIN_BYTES` of plaintext as parts: the header, then the AEAD's outputs as
 * node:crypto gives them (it cannot encrypt into a buffer of ours), so a large frame's ciphertext is never
 * copied into one; a stream connection writes the parts in one `writev`, any other hop gets them joined.
 */
export function sealDataFrame(
  keys: SendKeys,
  plaintext: Uint8Array,
  more?: Uint8Array,
): Uint8Array | ByteParts {
  if (plaintext.length + (more?.length ?? 0) < PARTS_MIN_BYTES) return dataFrame(keys, plaintext, more);
  const { nonce, parts } = keys.encryptParts(plaintext, more);
  const header = new Uint8Array(DATA_HEADER_LENGTH);
  header[0] = FrameType.DATA;
  writeU64(header, 1, nonce);
  return new ByteParts([header, ...parts]);
}

/**
 * A frame's plaintext from which it is sent as parts: node:crypto seals it (from 2 KiB), and its ciphertext
 * is large enough that the copy saved outweighs gathering four buffers into the write.
 */
const PARTS_MIN_BYTES = 16 * 1024;
