import type { Hasher } from './hash';

/**
 * RFC 5869 HKDF: PRK = HMAC(salt, IKM); T(i) = HMAC(PRK, T(i-1) || info || i); OKM = the first `length`
 * bytes of T(1) || T(2) || ... An empty salt stands for HashLen zero bytes (HMAC zero-pads keys, so this is
 * the same). The caller checks `length` (at most 255 * HashLen).
 */
export function hkdf(
  hasher: Hasher,
  salt: Uint8Array,
  ikm: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  const prk = hasher.hmac(salt.length === 0 ? new Uint8Array(hasher.length) : salt, ikm);
  const okm = new Uint8Array(length);
  const counter = new Uint8Array(1);
  let previous: Uint8Array = new Uint8Array(0);
  for (let i = 1, offset = 0; offset < length; i++) {
    counter[0] = i;
    const next = hasher.hmac(prk, previous, info, counter);
    previous.fill(0);
    previous = next;
    okm.set(previous.subarray(0, Math.min(hasher.length, length - offset)), offset);
    offset += hasher.length;
  }
  previous.fill(0);
  prk.fill(0);
  return okm;
}

const ONE = Uint8Array.of(0x01);
const TWO = Uint8Array.of(0x02);

/**
 * The two-output HKDF of the Noise specification (section 4.3) over `hmac`: temp_key = HMAC(ck, ikm);
 * output1 = HMAC(temp_key, 0x01); output2 = HMAC(temp_key, output1 || 0x02). The temporary key is wiped.
 */
export function hkdf2(
  hmac: (key: Uint8Array, ...parts: Uint8Array[]) => Uint8Array,
  ck: Uint8Array,
  ikm: Uint8Array,
): [Uint8Array, Uint8Array] {
  const tempKey = hmac(ck, ikm);
  const output1 = hmac(tempKey, ONE);
  const output2 = hmac(tempKey, output1, TWO);
  tempKey.fill(0);
  return [output1, output2];
}
