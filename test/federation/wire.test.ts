import { randomBytes } from 'node:crypto';
import { DecodeError } from '../../src/core/errors';
import { route } from '../../src/core/route';
import { encodeFrame } from '../../src/core/wire';
import { Identity } from '../../src/identity';
import { InMemoryVault } from '../../src/vault';
import {
  EnvelopeKind,
  decodeEnvelope,
  encodeControl,
  headerSize,
  writeHeader,
} from '../../src/federation/envelope';
import {
  MAX_RECORD_BYTES,
  encodeRecord,
  verifyRecord,
  type NameRecord,
} from '../../src/federation/name-record';
import { nameClaimStatement } from '../../src/services/forwarding-messages';

const INSTANCE = 'ab'.repeat(16);

describe('federation envelopes (what hubs read from NATS)', () => {
  it('round-trips a frame, relayed unchanged', () => {
    const header = headerSize(1);
    const frame = encodeFrame(
      route('fwd.n.bob', 'listener'),
      route('back'),
      new Uint8Array([1, 2, 3]),
      1 << 20,
      header,
    );
    writeHeader(frame, EnvelopeKind.DATA, 'a', INSTANCE, 42, 7, 3);
    const envelope = decodeEnvelope(frame);
    expect(envelope).toMatchObject({
      kind: EnvelopeKind.DATA,
      hub: 'a',
      instance: INSTANCE,
      epoch: 42,
      peerEpoch: 7,
      seq: 3,
    });
    expect(Buffer.from(envelope.frame).equals(frame.subarray(header))).toBe(true);
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['an unknown version', Buffer.from([9, 1, 1, 97])],
    ['an unknown kind', Buffer.from([1, 9, 1, 97])],
    ['a header cut short', encodeControl(EnvelopeKind.ACK, 'a', INSTANCE, 1, 1, 1).subarray(0, 20)],
    [
      'a hub name that is no subject token',
      (() => {
        const b = encodeControl(EnvelopeKind.ACK, 'a', INSTANCE, 1, 1, 1);
        b[3] = '*'.charCodeAt(0);
        return b;
      })(),
    ],
    ['a negative sequence number', encodeControl(EnvelopeKind.ACK, 'a', INSTANCE, 1, 1, -1)],
    ['a fractional epoch', encodeControl(EnvelopeKind.ACK, 'a', INSTANCE, 1.5, 1, 1)],
    ['a DATA envelope without a frame', encodeControl(EnvelopeKind.DATA, 'a', INSTANCE, 1, 1, 1)],
    [
      'a heartbeat with a frame',
      Buffer.concat([encodeControl(EnvelopeKind.HEARTBEAT, 'a', INSTANCE, 1, 0, 0), Buffer.from([1])]),
    ],
  ])('refuses %s with a DecodeError', (_what, bytes) => {
    expect(() => decodeEnvelope(bytes)).toThrow(DecodeError);
  });
});

describe('federation name records (what hubs read from the bucket)', () => {
  let owner: Identity;
  let other: Identity;
  let vault: InMemoryVault;
  let record: NameRecord;

  beforeAll(async () => {
    vault = await InMemoryVault.create();
    owner = await Identity.create(vault);
    other = await Identity.create(vault);
    const challenge = randomBytes(16).toString('hex');
    record = {
      v: 1,
      name: 'bob',
      hub: 'c',
      instance: INSTANCE,
      epoch: 1,
      owner: owner.identifier,
      key: owner.publicKey,
      challenge,
      sig: await owner.sign(nameClaimStatement(INSTANCE, challenge, 'bob', owner.publicKey)),
    };
  });

  it("accepts the owner's signed claim", () => {
    expect(verifyRecord('bob', encodeRecord(record), vault)).toEqual({ record });
  });

  it('refuses a record under another key, for another hub instance, with another owner or key', () => {
    expect(verifyRecord('carol', encodeRecord(record), vault)).toEqual({ problem: 'malformed' });
    expect(verifyRecord('bob', encodeRecord({ ...record, instance: 'cd'.repeat(16) }), vault)).toEqual({
      problem: 'bad-signature',
    });
    expect(verifyRecord('bob', encodeRecord({ ...record, challenge: 'ef'.repeat(16) }), vault)).toEqual({
      problem: 'bad-signature',
    });
    expect(verifyRecord('bob', encodeRecord({ ...record, owner: other.identifier }), vault)).toEqual({
      problem: 'wrong-key',
    });
    // Another identity's key under bob's owner: it cannot sign for bob.
    expect(
      verifyRecord('bob', encodeRecord({ ...record, owner: other.identifier, key: other.publicKey }), vault),
    ).toEqual({
      problem: 'bad-signature',
    });
  });

  it.each([
    ['not JSON', Buffer.from('{')],
    ['not UTF-8', Buffer.from([0xff, 0xfe])],
    ['null', Buffer.from('null')],
    ['over the size bound', Buffer.alloc(MAX_RECORD_BYTES + 1, 0x20)],
  ])('refuses a record that is %s', (_what, bytes) => {
    expect(verifyRecord('bob', bytes, vault)).toEqual({ problem: 'malformed' });
  });

  it.each([
    ['v', 2],
    ['hub', 'a.b'],
    ['epoch', -1],
    ['epoch', 1.5],
    ['instance', 'xyz'],
    ['key', 'AAAA'],
    ['sig', 'AAAA'],
    ['owner', 'nobody'],
  ])('refuses a record whose %s is %p', (field, value) => {
    const json = JSON.parse(Buffer.from(encodeRecord(record)).toString()) as Record<string, unknown>;
    json[field] = value;
    expect(verifyRecord('bob', Buffer.from(JSON.stringify(json)), vault)).toEqual({ problem: 'malformed' });
  });
});
