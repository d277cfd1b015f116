/**
 * The credential format (docs/PROTOCOL.md 6.1): how a credential is written, signed and read, without
 * deciding whom to trust (that is `TrustedAuthorities`, credential.ts). It is CBOR, versioned, and signed
 * over the exact bytes of its body, so that verifying never depends on re-encoding.
 */
import { Encoder } from 'cbor-x';
import { CredentialError } from './errors';
import { isIdentifier, type Identity } from './identity';

/** The credential format version this code writes and reads. */
export const CREDENTIAL_VERSION = 1;

/** Domain separation of the statement an authority signs (never the same bytes as any other signature). */
const CREDENTIAL_DOMAIN = new TextEncoder().encode('sealroute/credential/v1\0');

/** Bounds on what a credential from outside may hold: checked before and while it is decoded. */
export const CREDENTIAL_LIMITS = Object.freeze({
  /** Encoded size of a whole credential, in bytes. */
  maxBytes: 4096,
  /** Attributes in one credential. */
  maxAttributes: 32,
  /** Length of an attribute key, in characters (keys match `ATTRIBUTE_KEY_PATTERN`). */
  maxKeyLength: 64,
  /** Length of an attribute value, in UTF-8 bytes. */
  maxValueBytes: 256,
});

/** What an attribute key looks like: a letter, then letters, digits, `_`, `-` or `.`. */
export const ATTRIBUTE_KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/** Attributes: string keys to string values (see `CREDENTIAL_LIMITS`). */
export type Attributes = Readonly<Record<string, string>>;

/** The parts of a credential, as its issuer signed them. Times are milliseconds since the Unix epoch. */
export interface CredentialBody {
  /** The identifier of the identity the credential is about. */
  readonly subject: string;
  /** The identifier of the authority that signed it. */
  readonly issuer: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly attributes: Attributes;
}

/** A decoded credential: its body, the exact bytes signed, and the signature (not yet verified). */
export interface Credential extends CredentialBody {
  /** The whole encoded credential, as presented. */
  readonly encoded: Uint8Array;
  /** The encoded body the signature covers. */
  readonly signedBody: Uint8Array;
  readonly signature: Uint8Array;
}

// Standard CBOR without cbor-x extensions; maps decode to `Map`s, so that no key (`__proto__`) can reach
// an object's prototype, and unknown shapes are refused below.
const cbor = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false });

/** Whether `value` takes at most `maxValueBytes` of UTF-8 (at most 3 bytes per UTF-16 unit: short ones surely). */
function fitsValueBytes(value: string): boolean {
  const max = CREDENTIAL_LIMITS.maxValueBytes;
  return value.length * 3 <= max || Buffer.byteLength(value, 'utf8') <= max;
}

/**
 * Checks attributes against the format's bounds and returns a frozen copy without a prototype. Throws
 * `CredentialError` `MALFORMED` naming the offending attribute.
 */
export function checkAttributes(attributes: unknown): Attributes {
  const entries =
    attributes instanceof Map
      ? [...(attributes as Map<unknown, unknown>).entries()]
      : typeof attributes === 'object' && attributes !== null && !Array.isArray(attributes)
        ? Object.entries(attributes)
        : undefined;
  if (entries === undefined) throw malformed('attributes must be a map of strings to strings');
  if (entries.length > CREDENTIAL_LIMITS.maxAttributes) {
    throw malformed(`more than ${CREDENTIAL_LIMITS.maxAttributes} attributes`);
  }
  const out = Object.create(null) as Record<string, string>;
  for (const [key, value] of entries) {
    if (
      typeof key !== 'string' ||
      key.length > CREDENTIAL_LIMITS.maxKeyLength ||
      !ATTRIBUTE_KEY_PATTERN.test(key)
    ) {
      const shown = typeof key === 'string' ? JSON.stringify(key.slice(0, 70)) : typeof key;
      throw malformed(`attribute key ${shown} is not a letter followed by up to 63 of [A-Za-z0-9_.-]`);
    }
    if (typeof value !== 'string' || !fitsValueBytes(value)) {
      throw malformed(`attribute ${key} is not a string of at most ${CREDENTIAL_LIMITS.maxValueBytes} bytes`);
    }
    out[key] = value;
  }
  return Object.freeze(out);
}

/**
 * Signs a credential: `issuer` states that `subject` has `attributes` from `issuedAt` (default now) for
 * `ttlMs`. Returns the encoded credential (what is stored, sent and presented). Throws `CredentialError`
 * `MALFORMED` for attributes or times out of bounds.
 */
export async function issueCredential(
  issuer: Identity,
  subject: string,
  attributes: Record<string, string>,
  options: { readonly ttlMs: number; readonly issuedAt?: number },
): Promise<Uint8Array> {
  if (!isIdentifier(subject)) throw malformed('the subject is not an identifier');
  const issuedAt = options.issuedAt ?? Date.now();
  const expiresAt = issuedAt + options.ttlMs;
  if (!Number.isSafeInteger(issuedAt) || !Number.isSafeInteger(expiresAt) || options.ttlMs <= 0) {
    throw malformed('issuedAt and ttlMs must be integers, ttlMs > 0');
  }
  const checked = checkAttributes(attributes);
  const body = cbor.encode([
    CREDENTIAL_VERSION,
    subject,
    issuer.identifier,
    issuedAt,
    expiresAt,
    new Map(Object.entries(checked)),
  ]) as Uint8Array;
  const signature = await issuer.sign(signedStatement(body));
  const encoded = cbor.encode([CREDENTIAL_VERSION, body, signature]) as Uint8Array;
  if (encoded.length > CREDENTIAL_LIMITS.maxBytes) {
    throw malformed(
      `the credential would take ${encoded.length} bytes (at most ${CREDENTIAL_LIMITS.maxBytes})`,
    );
  }
  return encoded;
}

/**
 * Decodes a credential from outside without verifying it: `[1, body, signature]` where body is
 * `[1, subject, issuer, issuedAt, expiresAt, {attributes}]`. Throws `CredentialError` `MALFORMED` (or
 * `UNSUPPORTED_VERSION`) for anything else, including a credential over `CREDENTIAL_LIMITS.maxBytes`.
 */
export function decodeCredential(encoded: Uint8Array): Credential {
  if (!(encoded instanceof Uint8Array)) throw malformed('a credential is bytes');
  if (encoded.length > CREDENTIAL_LIMITS.maxBytes) {
    throw malformed(`a credential of ${encoded.length} bytes (at most ${CREDENTIAL_LIMITS.maxBytes})`);
  }
  const outer = decodeCbor(encoded);
  if (!Array.isArray(outer) || outer.length !== 3)
    throw malformed('a credential is [version, body, signature]');
  const [version, signedBody, signature] = outer as unknown[];
  checkVersion(version);
  if (!(signedBody instanceof Uint8Array) || !(signature instanceof Uint8Array) || signature.length !== 64) {
    throw malformed('a credential body is bytes and its signature 64 bytes');
  }
  const body = decodeCbor(signedBody);
  if (!Array.isArray(body) || body.length !== 6) throw malformed('a credential body has six fields');
  const [bodyVersion, subject, issuer, issuedAt, expiresAt, attributes] = body as unknown[];
  checkVersion(bodyVersion);
  if (!isIdentifier(subject) || !isIdentifier(issuer)) throw malformed('subject and issuer are identifiers');
  if (!isTime(issuedAt) || !isTime(expiresAt) || expiresAt <= issuedAt) {
    throw malformed('issuedAt and expiresAt are times, issuedAt before expiresAt');
  }
  return {
    subject,
    issuer,
    issuedAt,
    expiresAt,
    attributes: checkAttributes(attributes),
    encoded,
    signedBody,
    signature,
  };
}

/** What an issuer signs for `body`: the domain separation string, then the body's exact bytes. */
export function signedStatement(body: Uint8Array): Uint8Array {
  const statement = new Uint8Array(CREDENTIAL_DOMAIN.length + body.length);
  statement.set(CREDENTIAL_DOMAIN);
  statement.set(body, CREDENTIAL_DOMAIN.length);
  return statement;
}

function decodeCbor(bytes: Uint8Array): unknown {
  try {
    return cbor.decode(bytes);
  } catch (cause) {
    throw new CredentialError('MALFORMED', 'the credential is not valid CBOR', { cause });
  }
}

function checkVersion(version: unknown): void {
  if (version !== CREDENTIAL_VERSION) {
    throw new CredentialError(
      typeof version === 'number' ? 'UNSUPPORTED_VERSION' : 'MALFORMED',
      `credential version ${String(version).slice(0, 16)} (this code reads ${CREDENTIAL_VERSION})`,
    );
  }
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function malformed(message: string): CredentialError {
  return new CredentialError('MALFORMED', `malformed credential: ${message}`);
}
