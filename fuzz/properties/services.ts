import fc from 'fast-check';
import { decodeBody, encodeBody } from '../../src/core/codec';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../../src/core/wire';
import {
  FORWARDER_NAME,
  MAX_REGISTRATION_CREDENTIAL,
  REFUSAL_CODES,
  isRequest,
  parseForwardingRequest,
  type ForwardingRequest,
} from '../../src/services/forwarding-messages';
import { mutatedArb } from './mutate';
import { check, decodeOrRefuse, defineProperty, traceCase, type FuzzProperty, type Refusal } from './support';

/** What `decodeBody` may throw for bytes that were a request before they were mutated. */
const BODY_REFUSAL: Refusal = {
  name: 'DecodeError',
  codes: ['TRUNCATED', 'MALFORMED', 'UNSUPPORTED_VERSION'],
};

const HEX32 = /^[0-9a-f]{32}$/;
/** Oversized fields: mostly up to 1 MiB, sometimes as large as the largest transport message can hold. */
const MAX_STRING = 1 << 20;
const oversizedArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 257, max: MAX_STRING }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: DEFAULT_MAX_MESSAGE_SIZE - 1024, max: DEFAULT_MAX_MESSAGE_SIZE }),
  },
);
/** A registration's credential: short, around its bound (4,096 bytes), or past it (to 64 KiB; any-value goes further). */
const credentialArb = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  {
    weight: 2,
    arbitrary: fc
      .integer({ min: MAX_REGISTRATION_CREDENTIAL - 8, max: MAX_REGISTRATION_CREDENTIAL + 8 })
      .map((n) => new Uint8Array(n).fill(0xa5)),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: MAX_REGISTRATION_CREDENTIAL, max: 1 << 16 }).map((n) => new Uint8Array(n)),
  },
);
const hex32 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('hex'));
const name = fc.stringMatching(FORWARDER_NAME);

/** Requests as a client would send them (every type, each optional field present or not). */
const requestArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ v: fc.constant(2), type: fc.constant('challenge'), nonce: hex32 }),
  fc.record(
    {
      v: fc.constant(2),
      type: fc.constant('register'),
      nonce: hex32,
      name,
      token: hex32,
      address: hex32.map((h) => `fwd.r.${h}`),
      claim: fc.record({
        challenge: hex32,
        key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        sig: fc.uint8Array({ minLength: 64, maxLength: 64 }),
      }),
      credential: credentialArb,
    },
    { requiredKeys: ['v', 'type', 'nonce'] },
  ),
  fc.record({ v: fc.constant(2), type: fc.constant('ping'), nonce: hex32, address: fc.string() }),
  fc.record(
    {
      v: fc.constant(2),
      type: fc.constant('unregister'),
      nonce: hex32,
      address: fc.string(),
      token: hex32,
      forget: fc.boolean(),
    },
    { requiredKeys: ['v', 'type', 'nonce', 'address', 'token'] },
  ),
);

/**
 * What the hub does with whatever it is sent: a request it accepts has every field within its bounds; a
 * refusal carries a code of the closed list and a nonce only when the request had a well-formed one. It
 * never throws.
 */
function checkParsed(value: unknown): void {
  const parsed = parseForwardingRequest(value);
  if (isRequest(parsed)) {
    checkRequest(parsed);
    return;
  }
  check(
    (REFUSAL_CODES as readonly string[]).includes(parsed.code),
    `refused with an unknown code ${parsed.code}`,
  );
  check(parsed.nonce === undefined || HEX32.test(parsed.nonce), 'a refusal echoed a malformed nonce');
}

function checkRequest(request: ForwardingRequest): void {
  check(request.v === 2 && HEX32.test(request.nonce), 'an accepted request without v 2 and a 32-hex nonce');
  switch (request.type) {
    case 'register':
      check(request.name === undefined || FORWARDER_NAME.test(request.name), 'an invalid name accepted');
      check(request.claim === undefined || request.name !== undefined, 'a claim without a name accepted');
      check(
        request.claim === undefined || (request.claim.key.length === 32 && request.claim.sig.length === 64),
        'a claim of the wrong sizes accepted',
      );
      check(
        request.credential === undefined || request.credential.length <= MAX_REGISTRATION_CREDENTIAL,
        'a credential over its bound accepted',
      );
      return;
    case 'ping':
    case 'unregister':
      check(request.address.length <= 256, 'an address over 256 characters accepted');
      return;
    case 'challenge':
      return;
  }
}

/** Valid requests, encoded as the wire carries them and mutated: decoded, then parsed as the hub does. */
const mutated = defineProperty('services/forwarding-request/mutated', 60_000, 500, () =>
  fc.property(mutatedArb(requestArb.map((r) => encodeBody(r))), ({ mutated: bytes }) => {
    traceCase(bytes);
    const decoded = decodeOrRefuse(BODY_REFUSAL, () => decodeBody(bytes));
    if (decoded.ok) checkParsed(decoded.value);
  }),
);

/**
 * Any value at all in place of a request, with extra fields and oversized strings or bytes (up to the
 * largest transport message, 16 MiB and 64 KiB).
 */
const anything = defineProperty('services/forwarding-request/any-value', 40_000, 300, () =>
  fc.property(
    fc.oneof(
      { weight: 6, arbitrary: fc.anything({ withTypedArray: true, maxDepth: 3 }) },
      {
        weight: 3,
        arbitrary: fc
          .tuple(requestArb, fc.string(), fc.anything({ withTypedArray: true, maxDepth: 2 }))
          .map(([r, key, value]) => ({ ...r, [key]: value })),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(
            requestArb,
            oversizedArb,
            fc.constantFrom('name', 'address', 'token', 'nonce', 'type', 'credential', 'claim'),
          )
          .map(([r, length, field]) => ({
            ...r,
            [field]:
              field === 'credential' || field === 'claim' ? new Uint8Array(length) : 'a'.repeat(length),
          })),
      },
    ),
    (value) => checkParsed(value),
  ),
);

/** The forwarding service's request parser. */
export const servicesProperties: readonly FuzzProperty[] = [mutated, anything];
