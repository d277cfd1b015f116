import fc from 'fast-check';
import {
  FORWARDER_NAME,
  isRequest,
  nameClaimStatement,
  parseForwardingRequest,
} from '../../src/services/forwarding-messages';

// Everything a registrant sends is outside input to the hub: the parser must answer every value with a
// request whose fields are within their bounds, or with a typed refusal, and never throw.

const hex32 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('hex'));

describe('parseForwardingRequest', () => {
  it('never throws, and bounds every field of what it accepts', () => {
    const field = fc.oneof(fc.anything(), hex32, fc.string(), fc.uint8Array({ maxLength: 80 }));
    const requestLike = fc.record(
      {
        v: fc.oneof(fc.constant(2), fc.anything()),
        type: fc.constantFrom('challenge', 'register', 'ping', 'unregister', 'other'),
        nonce: fc.oneof(hex32, fc.anything()),
        name: fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,70}$/), field),
        token: fc.oneof(hex32, field),
        address: fc.oneof(
          hex32.map((h) => `fwd.r.${h}`),
          field,
        ),
        claim: fc.oneof(
          fc.record({
            challenge: fc.oneof(hex32, field),
            key: fc.uint8Array({ minLength: 30, maxLength: 34 }),
            sig: fc.uint8Array({ minLength: 62, maxLength: 66 }),
          }),
          field,
        ),
        forget: fc.oneof(fc.boolean(), field),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.anything(), requestLike), (value) => {
        const parsed = parseForwardingRequest(value);
        if (!isRequest(parsed)) {
          expect(typeof parsed.reason).toBe('string');
          return;
        }
        expect(parsed.nonce).toMatch(/^[0-9a-f]{32}$/);
        if (parsed.type === 'register') {
          if (parsed.name !== undefined) expect(parsed.name).toMatch(FORWARDER_NAME);
          if (parsed.token !== undefined) expect(parsed.token).toMatch(/^[0-9a-f]{32}$/);
          if (parsed.address !== undefined) expect(parsed.address).toMatch(/^fwd\.r\.[0-9a-f]{32}$/);
          if (parsed.claim !== undefined) {
            expect([parsed.claim.key.length, parsed.claim.sig.length]).toEqual([32, 64]);
            expect(parsed.name).toBeDefined();
          }
        }
        if (parsed.type === 'ping' || parsed.type === 'unregister') {
          expect(Buffer.byteLength(parsed.address)).toBeLessThanOrEqual(69);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('names: 1..63 of a-z 0-9 _ -, starting with a letter or digit', () => {
    expect(['a', 'bob', 'b0b_-x', '9', 'a'.repeat(63)].every((n) => FORWARDER_NAME.test(n))).toBe(true);
    expect(
      ['', 'Bob', '-bob', '_x', 'a.b', 'r.x', 'é', 'a'.repeat(64)].some((n) => FORWARDER_NAME.test(n)),
    ).toBe(false);
  });
});

describe('nameClaimStatement', () => {
  it('is domain || hub || challenge || len(name) || name || key, each field where it belongs', () => {
    const key = new Uint8Array(32).fill(0xee);
    const statement = nameClaimStatement('11'.repeat(16), '22'.repeat(16), 'bob', key);
    const domain = new TextEncoder().encode('sealroute/forwarder-name-claim/v2\0');
    expect(statement.length).toBe(domain.length + 16 + 16 + 1 + 3 + 32);
    expect(statement.subarray(0, domain.length)).toEqual(domain);
    let at = domain.length;
    expect(statement.subarray(at, (at += 16))).toEqual(new Uint8Array(16).fill(0x11));
    expect(statement.subarray(at, (at += 16))).toEqual(new Uint8Array(16).fill(0x22));
    expect(statement[at++]).toBe(3);
    expect(Buffer.from(statement.subarray(at, (at += 3))).toString()).toBe('bob');
    expect(statement.subarray(at)).toEqual(key);
    // A different name or hub gives a different statement (no signature covers two registrations).
    expect(nameClaimStatement('11'.repeat(16), '22'.repeat(16), 'bo', key)).not.toEqual(statement);
    expect(nameClaimStatement('33'.repeat(16), '22'.repeat(16), 'bob', key)).not.toEqual(statement);
  });
});
