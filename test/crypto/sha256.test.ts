import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { hashFunction } from '../../src/noise';
import { HmacSha256, Sha256 } from '../../src/crypto/sha256';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const nodeHmac = (key: Uint8Array, data: Uint8Array): Buffer =>
  createHmac('sha256', key).update(data).digest();

describe('Sha256', () => {
  it('gives the FIPS 180-4 digests of "abc" and of the empty string', () => {
    const sha = new Sha256();
    expect(hex(sha.reset().update(Buffer.from('abc')).digest())).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(hex(sha.reset().digest())).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('agrees with node:crypto at every length around the block and padding boundaries', () => {
    const sha = new Sha256();
    const data = Uint8Array.from({ length: 200 }, (_, i) => (i * 31 + 7) & 0xff);
    for (let length = 0; length <= data.length; length++) {
      const input = data.subarray(0, length);
      expect(hex(sha.reset().update(input).digest())).toBe(createHash('sha256').update(input).digest('hex'));
    }
  });

  it('hashes data split into any parts as if concatenated (one instance reused)', () => {
    const sha = new Sha256();
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 150 }), { maxLength: 6 }), (parts) => {
        sha.reset();
        for (const part of parts) sha.update(part);
        expect(hex(sha.digest())).toBe(createHash('sha256').update(Buffer.concat(parts)).digest('hex'));
      }),
    );
  });
});

describe('HmacSha256', () => {
  it('agrees with node:crypto for keys shorter than, equal to and longer than a block', () => {
    const mac = new HmacSha256();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 150 }), fc.uint8Array({ maxLength: 150 }), (key, data) => {
        const out = new Uint8Array(32);
        mac.setKey(key).macInto([data], out);
        expect(hex(out)).toBe(nodeHmac(key, data).toString('hex'));
      }),
    );
  });

  it('serves several MACs under one key, and writes at an offset', () => {
    const mac = new HmacSha256().setKey(Buffer.from('key'));
    const out = new Uint8Array(40);
    mac.macInto([Buffer.from('one')], out, 8);
    expect(hex(out.subarray(8))).toBe(nodeHmac(Buffer.from('key'), Buffer.from('one')).toString('hex'));
    mac.macInto([Buffer.from('tw'), Buffer.from('o')], out, 0);
    expect(hex(out.subarray(0, 32))).toBe(nodeHmac(Buffer.from('key'), Buffer.from('two')).toString('hex'));
  });
});

describe("the Noise SHA256 hash function's HKDF", () => {
  it('is the spec formula over node:crypto HMAC', () => {
    const hash = hashFunction('SHA256');
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 64 }),
        (ck, ikm) => {
          const temp = nodeHmac(ck, ikm);
          const output1 = nodeHmac(temp, Uint8Array.of(1));
          const output2 = nodeHmac(temp, Buffer.concat([output1, Uint8Array.of(2)]));
          const [a, b] = hash.hkdf(ck, ikm);
          expect([hex(a), hex(b)]).toEqual([output1.toString('hex'), output2.toString('hex')]);
        },
      ),
    );
  });
});
