import { Encoder } from 'cbor-x';
import {
  CREDENTIAL_LIMITS,
  CredentialError,
  Identity,
  PeerCredentials,
  TrustCredential,
  TrustedAuthorities,
  decodeCredential,
  issueCredential,
  type CredentialErrorCode,
} from '../../src/identity';
import { InMemoryVault } from '../../src/vault';

let vault: InMemoryVault;
let authority: Identity;
let other: Identity;
let alice: Identity;
let bob: Identity;
let trusted: TrustedAuthorities;

beforeAll(async () => {
  vault = await InMemoryVault.create();
  [authority, other, alice, bob] = await Promise.all([1, 2, 3, 4].map(() => Identity.create(vault)));
  trusted = TrustedAuthorities.of(vault, [authority]);
});

function refusal(fn: () => unknown): CredentialErrorCode {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CredentialError);
    return (error as CredentialError).code;
  }
  throw new Error('expected a CredentialError');
}

const cbor = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false });

describe('Credentials', () => {
  it('verifies a credential signed by a trusted authority for its subject', async () => {
    const encoded = await issueCredential(
      authority,
      alice.identifier,
      { role: 'db', relay: 'bob' },
      { ttlMs: 60_000 },
    );
    const credential = trusted.verify(encoded, alice.identifier);
    expect(credential.issuer).toBe(authority.identifier);
    expect(credential.subject).toBe(alice.identifier);
    expect({ ...credential.attributes }).toEqual({ role: 'db', relay: 'bob' });
    expect(credential.expiresAt - credential.issuedAt).toBe(60_000);
  });

  it('refuses a forged credential: a changed attribute breaks the signature', async () => {
    const encoded = await issueCredential(authority, alice.identifier, { role: 'user' }, { ttlMs: 60_000 });
    const [version, body, signature] = cbor.decode(encoded) as [number, Uint8Array, Uint8Array];
    const fields = cbor.decode(body) as unknown[];
    fields[5] = new Map([['role', 'admin']]);
    const forged = cbor.encode([version, cbor.encode(fields), signature]);
    expect(refusal(() => trusted.verify(forged, alice.identifier))).toBe('BAD_SIGNATURE');
  });

  it('refuses a credential signed by another key that claims the authority as issuer', async () => {
    const encoded = await issueCredential(other, alice.identifier, { role: 'db' }, { ttlMs: 60_000 });
    const [version, body, signature] = cbor.decode(encoded) as [number, Uint8Array, Uint8Array];
    const fields = cbor.decode(body) as unknown[];
    fields[2] = authority.identifier; // claims the trusted issuer, signed by `other`
    const forged = cbor.encode([version, cbor.encode(fields), signature]);
    expect(refusal(() => trusted.verify(forged, alice.identifier))).toBe('BAD_SIGNATURE');
  });

  it('refuses a credential of another subject', async () => {
    const encoded = await issueCredential(authority, bob.identifier, { role: 'db' }, { ttlMs: 60_000 });
    expect(refusal(() => trusted.verify(encoded, alice.identifier))).toBe('WRONG_SUBJECT');
  });

  it('refuses a credential from an unknown issuer', async () => {
    const encoded = await issueCredential(other, alice.identifier, { role: 'db' }, { ttlMs: 60_000 });
    expect(refusal(() => trusted.verify(encoded, alice.identifier))).toBe('UNKNOWN_ISSUER');
  });

  it('refuses an expired credential, and one not yet valid, allowing the clock skew', async () => {
    const now = Date.now();
    const encoded = await issueCredential(
      authority,
      alice.identifier,
      { role: 'db' },
      { ttlMs: 10_000, issuedAt: now },
    );
    const skew = { clockSkewMs: 2_000 };
    expect(() => trusted.verify(encoded, alice.identifier, { ...skew, now: now + 11_999 })).not.toThrow();
    expect(refusal(() => trusted.verify(encoded, alice.identifier, { ...skew, now: now + 12_000 }))).toBe(
      'EXPIRED',
    );
    expect(() => trusted.verify(encoded, alice.identifier, { ...skew, now: now - 2_000 })).not.toThrow();
    expect(refusal(() => trusted.verify(encoded, alice.identifier, { ...skew, now: now - 2_001 }))).toBe(
      'NOT_YET_VALID',
    );
  });

  it.each([
    ['not CBOR', Uint8Array.of(0xff, 0x00)],
    ['a map, not an array', cbor.encode(new Map([['v', 1]]))],
    ['a short signature', cbor.encode([1, cbor.encode([1]), new Uint8Array(10)])],
    [
      'a body with a bad subject',
      cbor.encode([1, cbor.encode([1, 'x', 'y', 1, 2, new Map()]), new Uint8Array(64)]),
    ],
    ['an oversized credential', new Uint8Array(CREDENTIAL_LIMITS.maxBytes + 1)],
  ])('refuses malformed input: %s', (_label, bytes) => {
    expect(refusal(() => decodeCredential(bytes))).toBe('MALFORMED');
    expect(refusal(() => trusted.verify(bytes, alice.identifier))).toBe('MALFORMED');
  });

  it('verifies a credential seen before without its signature again, yet by the same rules', async () => {
    const encoded = await issueCredential(authority, alice.identifier, { role: 'client' }, { ttlMs: 60_000 });
    const verify = jest.spyOn(vault, 'verify');
    try {
      expect(trusted.verify(encoded, alice.identifier).attributes.role).toBe('client');
      expect(trusted.verify(encoded, alice.identifier).attributes.role).toBe('client');
      expect(verify).toHaveBeenCalledTimes(1);
      // What was remembered is the decoding and the signature only: who presents it, whom the verifier
      // trusts and when it is used are checked every time.
      expect(refusal(() => trusted.verify(encoded, bob.identifier))).toBe('WRONG_SUBJECT');
      expect(refusal(() => TrustedAuthorities.of(vault, [other]).verify(encoded, alice.identifier))).toBe(
        'UNKNOWN_ISSUER',
      );
      expect(
        refusal(() =>
          trusted.verify(encoded, alice.identifier, { now: Date.now() + 120_000, clockSkewMs: 0 }),
        ),
      ).toBe('EXPIRED');
    } finally {
      verify.mockRestore();
    }
  });

  it('refuses a credential of an unknown version', () => {
    expect(refusal(() => decodeCredential(cbor.encode([2, new Uint8Array(1), new Uint8Array(64)])))).toBe(
      'UNSUPPORTED_VERSION',
    );
  });

  it('refuses to issue attributes beyond the bounds or with bad keys', async () => {
    const many = Object.fromEntries(
      Array.from({ length: CREDENTIAL_LIMITS.maxAttributes + 1 }, (_, i) => [`k${i}`, 'v']),
    );
    for (const attributes of [
      many,
      { '1bad': 'v' },
      { __proto__x: 'v', ok: 'x'.repeat(257) },
      { 'a b': 'v' },
    ]) {
      await expect(
        issueCredential(authority, alice.identifier, attributes, { ttlMs: 1000 }),
      ).rejects.toMatchObject({
        code: 'MALFORMED',
      });
    }
  });

  it('refuses a key named __proto__, and keeps one named constructor as data only', async () => {
    const encode = (key: string) =>
      cbor.encode([
        1,
        cbor.encode([1, alice.identifier, authority.identifier, 1, 2, new Map([[key, 'x']])]),
        new Uint8Array(64),
      ]);
    expect(refusal(() => decodeCredential(encode('__proto__')))).toBe('MALFORMED');
    const decoded = decodeCredential(encode('constructor'));
    expect(Object.getPrototypeOf(decoded.attributes)).toBeNull();
    expect(decoded.attributes.constructor).toBe('x');
  });
});

describe('TrustCredential', () => {
  const peerWith = async (attributes: Record<string, string>, ttlMs = 60_000, issuer = authority) => {
    const encoded = await issueCredential(issuer, alice.identifier, attributes, { ttlMs });
    const verified = TrustedAuthorities.of(vault, [issuer]).verify(encoded, alice.identifier);
    return {
      identifier: alice.identifier,
      publicKey: alice.publicKey,
      credentials: new PeerCredentials([verified], 0),
    };
  };

  it('trusts a peer whose valid credential from the authority gives the attributes', async () => {
    const policy = TrustCredential({ authority, attributes: { role: 'db' } });
    expect(policy.needsCredentials).toBe(true);
    expect(policy.authorities?.[0]?.identifier).toBe(authority.identifier);
    expect(await policy.check(await peerWith({ role: 'db', team: 'x' }))).toBe(true);
    expect(await policy.check(await peerWith({ role: 'web' }))).toBe(false);
    expect(await policy.check(await peerWith({ role: 'db' }, 60_000, other))).toBe(false);
    expect(await policy.check({ identifier: alice.identifier, publicKey: alice.publicKey })).toBe(false);
  });

  it('accepts an authority given as 64 hex digits, and a policy expression', async () => {
    const policy = TrustCredential({
      authority: Buffer.from(authority.publicKey).toString('hex'),
      policy: '(member? subject.role ["db" "ops"])',
    });
    expect(await policy.check(await peerWith({ role: 'ops' }))).toBe(true);
    expect(await policy.check(await peerWith({ role: 'web' }))).toBe(false);
  });

  it('stops trusting the moment the credential expires', async () => {
    const peer = await peerWith({ role: 'db' }, 150);
    const policy = TrustCredential({ authority, attributes: { role: 'db' } });
    expect(await policy.check(peer)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await policy.check(peer)).toBe(false);
  });
});
