import { sodium } from '../crypto/sodium';
import { corruptFile } from './errors';
import { SECRET_LENGTH } from './key-store';
import type { KeyId, KeyType } from './vault';
import { VaultError } from './errors';

/** A persisted key: its id, type and 32-byte secret. */
export interface StoredKey {
  readonly id: KeyId;
  readonly type: KeyType;
  readonly secret: Uint8Array;
}

const KEY_TYPE_CODE: Readonly<Record<KeyType, number>> = { x25519: 1, ed25519: 2 };
const KEY_TYPE_BY_CODE: ReadonlyMap<number, KeyType> = new Map([
  [1, 'x25519'],
  [2, 'ed25519'],
]);

/** Body v1: u32 count, then per key: u8 type, u8 id length, id (UTF-8), 32-byte secret. */
export function encodeBody(keys: readonly StoredKey[]): Uint8Array {
  const encoder = new TextEncoder();
  const ids = keys.map((key) => encoder.encode(key.id));
  const size = 4 + keys.reduce((sum, _key, i) => sum + 2 + ids[i].length + SECRET_LENGTH, 0);
  const body = new Uint8Array(size);
  const view = new DataView(body.buffer);
  view.setUint32(0, keys.length);
  let offset = 4;
  keys.forEach((key, i) => {
    if (ids[i].length > 255 || key.secret.length !== SECRET_LENGTH) {
      throw new VaultError('INVALID_ARGUMENT', `key ${key.id} cannot be stored`);
    }
    body[offset] = KEY_TYPE_CODE[key.type];
    body[offset + 1] = ids[i].length;
    body.set(ids[i], offset + 2);
    offset += 2 + ids[i].length;
    body.set(key.secret, offset);
    offset += SECRET_LENGTH;
  });
  return body;
}

/** Parses a body strictly: every byte accounted for, known types, unique ids. Secrets are copies. */
export function decodeBody(body: Uint8Array): StoredKey[] {
  // ignoreBOM: an id that starts with U+FEFF keeps it (by default the decoder strips it, which broke the round
  // trip and made two distinct ids collide).
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body.length < 4) {
    throw corruptFile('body too short');
  }
  const count = view.getUint32(0);
  const keys: StoredKey[] = [];
  try {
    const seen = new Set<string>();
    let offset = 4;
    for (let i = 0; i < count; i++) {
      if (offset + 2 > body.length) {
        throw corruptFile('body truncated');
      }
      const type = KEY_TYPE_BY_CODE.get(body[offset]);
      const idLength = body[offset + 1];
      offset += 2;
      if (type === undefined || idLength === 0 || offset + idLength + SECRET_LENGTH > body.length) {
        throw corruptFile('malformed key record');
      }
      let id: string;
      try {
        id = decoder.decode(body.subarray(offset, offset + idLength));
      } catch (cause) {
        throw corruptFile('malformed key id', cause);
      }
      offset += idLength;
      if (seen.has(id)) {
        throw corruptFile(`duplicate key id ${id}`);
      }
      seen.add(id);
      keys.push({ id, type, secret: body.slice(offset, offset + SECRET_LENGTH) });
      offset += SECRET_LENGTH;
    }
    if (offset !== body.length) {
      throw corruptFile('trailing bytes after the key records');
    }
    return keys;
  } catch (error) {
    keys.forEach((key) => sodium().memzero(key.secret));
    throw error;
  }
}
