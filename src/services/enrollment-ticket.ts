import { Encoder } from 'cbor-x';
import { authorityOf } from '../identity/trust-policy';
import type { Authority } from '../identity/credential';
import type { Identity } from '../identity/identity';
import { AuthorityError } from './authority-errors';
import { TICKET_CODE } from './authority-messages';

const PREFIX = 'sealroute-ticket:';
const VERSION = 1;
const cbor = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false });

/**
 * What a new node needs to enroll, as one string to copy: the one-time code, the authority's identity
 * public key (so that the new node talks to the real authority only), and where it listens (`host:port`).
 * `sealroute-ticket:` then base64url of CBOR `[1, code, authority-key, address]`, about 150 characters.
 * The code is the secret: anyone holding the string may enroll (once, by default) until it expires.
 */
export class EnrollmentTicket {
  private constructor(
    /** `<16 hex id>.<32 hex secret>`. */
    readonly code: string,
    readonly authority: Authority,
    /** The authority node's TCP address (`host:port`). */
    readonly address: string,
  ) {}

  static of(
    code: string,
    authority: Identity | Authority | Uint8Array | string,
    address: string,
  ): EnrollmentTicket {
    if (!TICKET_CODE.test(code))
      throw new AuthorityError('INVALID_TICKET', 'a ticket code is <16 hex>.<32 hex>');
    if (address.length === 0 || address.length > 255)
      throw new AuthorityError('INVALID_TICKET', 'bad address');
    return new EnrollmentTicket(code, authorityOf(authority), address);
  }

  /** Parses a ticket string; `AuthorityError` `INVALID_TICKET` for anything else. */
  static parse(text: string): EnrollmentTicket {
    const fail = (cause?: unknown) =>
      new AuthorityError('INVALID_TICKET', `not an enrollment ticket (${PREFIX}…)`, { cause });
    const trimmed = text.trim();
    if (!trimmed.startsWith(PREFIX) || trimmed.length > 512) throw fail();
    let value: unknown;
    try {
      value = cbor.decode(Buffer.from(trimmed.slice(PREFIX.length), 'base64url'));
    } catch (cause) {
      throw fail(cause);
    }
    if (!Array.isArray(value) || value.length !== 4 || value[0] !== VERSION) throw fail();
    const [, code, key, address] = value as unknown[];
    if (typeof code !== 'string' || !(key instanceof Uint8Array) || typeof address !== 'string') throw fail();
    try {
      return EnrollmentTicket.of(code, key, address);
    } catch (cause) {
      throw fail(cause);
    }
  }

  /** The string to hand over. */
  format(): string {
    const encoded = cbor.encode([VERSION, this.code, this.authority.publicKey, this.address]) as Uint8Array;
    return PREFIX + Buffer.from(encoded).toString('base64url');
  }

  /** What loggers and `console.log` show: never the code, which is a secret. */
  toJSON(): { authority: string; address: string } {
    return { authority: this.authority.identifier, address: this.address };
  }
}
