import { decodeBody, encodeBody, type StoredKey } from '../../src/vault/key-records';
import { sodiumReady } from '../../src/crypto/sodium';
import { expectThrows, toHex } from './helpers';

beforeAll(async () => {
  await sodiumReady();
});

const secret = (fill: number): Uint8Array => new Uint8Array(32).fill(fill);

describe('vault file body', () => {
  const keys: StoredKey[] = [
    { id: 'aa', type: 'x25519', secret: secret(1) },
    { id: 'bbb', type: 'ed25519', secret: secret(2) },
  ];

  it('encodes as documented: u32 count, then type, id length, id, 32-byte secret', () => {
    const body = encodeBody(keys);
    expect(toHex(body)).toBe(
      '00000002' + '01' + '02' + '6161' + '01'.repeat(32) + '02' + '03' + '626262' + '02'.repeat(32),
    );
    expect(decodeBody(body)).toEqual(keys);
    expect(decodeBody(encodeBody([]))).toEqual([]);
  });

  it.each([
    ['empty', () => new Uint8Array(0)],
    ['a count with no records', () => new Uint8Array([0, 0, 0, 1])],
    ['a trailing byte', (body: Uint8Array) => Uint8Array.from([...body, 0])],
    ['a missing byte', (body: Uint8Array) => body.subarray(0, body.length - 1)],
    ['a count one too low', (body: Uint8Array) => Uint8Array.from([0, 0, 0, 1, ...body.subarray(4)])],
    [
      'an unknown key type',
      (body: Uint8Array) => Uint8Array.from([...body.subarray(0, 4), 9, ...body.subarray(5)]),
    ],
    ['an empty id', () => Uint8Array.from([0, 0, 0, 1, 1, 0, ...secret(1)])],
    ['an id that is not UTF-8', () => Uint8Array.from([0, 0, 0, 1, 1, 1, 0xff, ...secret(1)])],
    ['a duplicate id', () => encodeBody([keys[0], { ...keys[1], id: keys[0].id }])],
  ])('rejects a body with %s as CORRUPT_FILE', (_name, make) => {
    expectThrows(() => decodeBody(make(encodeBody(keys))), 'CORRUPT_FILE');
  });
});
