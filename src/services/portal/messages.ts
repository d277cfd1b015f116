import { PortalError, type PortalErrorCode } from './errors';

/**
 * The portal protocol (docs/PROTOCOL.md section 5): every message of a session is one byte string whose
 * first byte is its kind. It travels as a raw-bytes body inside a secure channel, so nothing of it, not even
 * the kind, is visible to the hub.
 */
export const PORTAL_VERSION = 1;

/** Message kinds. */
export const KIND = {
  /** inlet -> outlet: `0x01 version:u8 window:u32`, opens a session and grants `window` bytes of credit. */
  OPEN: 0x01,
  /** outlet -> inlet: `0x02 version:u8 window:u32`, the target accepted; the outlet's credit. */
  OPENED: 0x02,
  /** either way: `0x03 bytes`, the next bytes of the stream (at least one). */
  DATA: 0x03,
  /** either way: `0x04 consumed:u32`, bytes written to the local socket since the last ACK: credit back. */
  ACK: 0x04,
  /** either way: `0x05`, the sender's side will send no more bytes (TCP FIN). */
  FIN: 0x05,
  /** either way: `0x06 reason:u8`, the session is over, abortively (TCP RST). */
  RST: 0x06,
} as const;

/** Why a session was reset, as the RST message says it (docs/PROTOCOL.md 5). Unknown values read as RESET. */
export const RESET_REASONS = {
  /** The TCP connection at the sender's end was reset, or failed. */
  RESET: 0,
  /** The outlet could not connect to its target. */
  TARGET_UNREACHABLE: 1,
  /** A session limit at the sender. */
  LIMIT_REACHED: 2,
  /** The session was idle for the sender's `idleTimeoutMs`. */
  IDLE_TIMEOUT: 3,
  /** The receiver broke the protocol (sent beyond its window, a malformed message). */
  PROTOCOL: 4,
  /** The sender's inlet or outlet closed. */
  CLOSED: 5,
  /** The sender does not speak the OPEN's version. */
  UNSUPPORTED_VERSION: 6,
} as const;

/** See `RESET_REASONS`. */
export type ResetReason = keyof typeof RESET_REASONS;

const REASON_BY_VALUE = new Map<number, ResetReason>(
  Object.entries(RESET_REASONS).map(([name, value]) => [value, name as ResetReason]),
);

/** The error a session ends with when the other end sent RST with `reason`. */
export const RESET_ERROR_CODE: Readonly<Record<ResetReason, PortalErrorCode>> = {
  RESET: 'PEER_RESET',
  TARGET_UNREACHABLE: 'TARGET_UNREACHABLE',
  LIMIT_REACHED: 'LIMIT_REACHED',
  IDLE_TIMEOUT: 'IDLE_TIMEOUT',
  PROTOCOL: 'PROTOCOL',
  CLOSED: 'CLOSED',
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
};

/**
 * The most stream bytes one DATA message carries: with its kind byte and the routes, the transport message
 * stays under the channel's 65,518-byte frame (docs/PROTOCOL.md 4.4), so a DATA message is never chunked.
 */
export const MAX_DATA_BYTES = 64_000;

/** A decoded portal message. */
export type PortalMessage =
  | { readonly kind: 'OPEN' | 'OPENED'; readonly version: number; readonly window: number }
  | { readonly kind: 'DATA'; readonly bytes: Uint8Array }
  | { readonly kind: 'ACK'; readonly consumed: number }
  | { readonly kind: 'FIN' }
  | { readonly kind: 'RST'; readonly reason: ResetReason };

function withU32(kind: number, prefix: readonly number[], value: number): Uint8Array {
  const bytes = new Uint8Array(1 + prefix.length + 4);
  bytes[0] = kind;
  bytes.set(prefix, 1);
  new DataView(bytes.buffer).setUint32(1 + prefix.length, value);
  return bytes;
}

/** OPEN (`opened` false) or OPENED, granting `window` bytes. */
export function encodeOpen(opened: boolean, window: number): Uint8Array {
  return withU32(opened ? KIND.OPENED : KIND.OPEN, [PORTAL_VERSION], window);
}

/** DATA carrying `bytes` (a copy, behind the kind byte). */
export function encodeData(bytes: Uint8Array): Uint8Array {
  const message = Buffer.allocUnsafe(1 + bytes.byteLength);
  message[0] = KIND.DATA;
  message.set(bytes, 1);
  return message;
}

export function encodeAck(consumed: number): Uint8Array {
  return withU32(KIND.ACK, [], consumed);
}

export const FIN_MESSAGE: Uint8Array = Uint8Array.of(KIND.FIN);

export function encodeRst(reason: ResetReason): Uint8Array {
  return Uint8Array.of(KIND.RST, RESET_REASONS[reason]);
}

function malformed(what: string): PortalError {
  return new PortalError('PROTOCOL', `malformed portal message: ${what}`);
}

/** Decodes a portal message; throws `PortalError` `PROTOCOL` for anything else (never echoing its bytes). */
export function decodePortalMessage(bytes: Uint8Array): PortalMessage {
  if (bytes.byteLength === 0) throw malformed('empty');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (bytes[0]) {
    case KIND.OPEN:
    case KIND.OPENED:
      if (bytes.byteLength !== 6) throw malformed(`OPEN of ${bytes.byteLength} bytes`);
      return {
        kind: bytes[0] === KIND.OPEN ? 'OPEN' : 'OPENED',
        version: bytes[1]!,
        window: view.getUint32(2),
      };
    case KIND.DATA:
      if (bytes.byteLength < 2 || bytes.byteLength > 1 + MAX_DATA_BYTES) {
        throw malformed(`DATA of ${bytes.byteLength} bytes`);
      }
      return { kind: 'DATA', bytes: bytes.subarray(1) };
    case KIND.ACK:
      if (bytes.byteLength !== 5) throw malformed(`ACK of ${bytes.byteLength} bytes`);
      return { kind: 'ACK', consumed: view.getUint32(1) };
    case KIND.FIN:
      if (bytes.byteLength !== 1) throw malformed(`FIN of ${bytes.byteLength} bytes`);
      return { kind: 'FIN' };
    case KIND.RST:
      if (bytes.byteLength !== 2) throw malformed(`RST of ${bytes.byteLength} bytes`);
      return { kind: 'RST', reason: REASON_BY_VALUE.get(bytes[1]!) ?? 'RESET' };
    default:
      throw malformed(`unknown kind ${bytes[0]}`);
  }
}
