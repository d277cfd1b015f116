import { DecodeError } from './errors';

// ignoreBOM: a value that starts with U+FEFF keeps it (by default the decoder strips it, so such a value
// would not round-trip, and one that is only a BOM would decode to an empty string).
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A Buffer over the same bytes (no copy), for Buffer's native string reads and writes. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A cursor over bytes from outside: every read checks the bytes are there before touching them. */
export class Reader {
  offset = 0;
  private buffer: Buffer | undefined;
  constructor(readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  u8(): number {
    if (this.offset >= this.bytes.length) throw new DecodeError('TRUNCATED', 'unexpected end of message');
    return this.bytes[this.offset++]!;
  }

  /** An unsigned LEB128 integer of at most 4 bytes (values up to 2^28 - 1). */
  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      const byte = this.u8();
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new DecodeError('MALFORMED', 'varint longer than 4 bytes');
  }

  take(length: number): Uint8Array {
    // Checked against what is actually present before anything is allocated or sliced.
    if (length > this.remaining)
      throw new DecodeError('TRUNCATED', `need ${length} bytes, have ${this.remaining}`);
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  /**
   * `length` bytes of strict UTF-8 as a string; throws `DecodeError` (`MALFORMED`) for invalid UTF-8. ASCII,
   * what addresses almost always are, is read natively as Latin-1 (the same characters), many times faster
   * than TextDecoder for short strings; anything else goes through the strict decoder.
   */
  utf8(length: number): string {
    if (length > this.remaining)
      throw new DecodeError('TRUNCATED', `need ${length} bytes, have ${this.remaining}`);
    const { bytes } = this;
    const start = this.offset;
    const end = start + length;
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    let value: string;
    if (ascii) {
      this.buffer ??= asBuffer(bytes);
      value = this.buffer.toString('latin1', start, end);
    } else {
      try {
        value = utf8Decoder.decode(bytes.subarray(start, end));
      } catch (cause) {
        throw new DecodeError('MALFORMED', 'address is not valid UTF-8', { cause });
      }
    }
    this.offset = end;
    return value;
  }

  rest(): Uint8Array {
    return this.take(this.remaining);
  }
}
