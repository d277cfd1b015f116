import { Address } from '../core/address';
import type { Addressable } from '../core/route';
import { IDENTIFIER_PATTERN, TrustIdentifier, type TrustPolicy } from '../identity';
import { ServicesError } from './errors';

/**
 * A forwarder's address on a hub: `fwd.` and a random hex string or a name, as forwarding services issue
 * them; up to 128 characters of letters, digits, `.`, `_` and `-`. Opaque here: only the hub gives it a
 * meaning.
 */
const FORWARDER = /^[A-Za-z0-9._-]{1,128}$/;

/** Bounds a printed forwarding address: 41 for the identifier, 1 for `@`, 128 for the forwarder. */
export const MAX_FORWARDING_ADDRESS_LENGTH = 170;

/** What `ForwardingAddress.watch` follows: a `RemoteForwarder`, which registers again after a hub restart. */
export interface RegisteringForwarder {
  readonly forwardingAddress: string;
  on(event: 'registered', listener: () => void): unknown;
  off(event: 'registered', listener: () => void): unknown;
}

/**
 * A self-certifying forwarding address: where a node behind a hub can be reached (its forwarder on the hub)
 * and who it is (the identifier of the identity its secure channel listener proves), printed as
 * `<identifier>@<forwarder>`, e.g. `I3f…c1@fwd.9a…e4`. Like libp2p's `/p2p/<peer id>` or an onion address,
 * it names the peer by its key, so whoever is handed it can check that what answers is that peer: open the
 * channel with `trustPolicy` (exactly this identifier), and a hub that routes the channel anywhere else gets
 * `UNTRUSTED`, never plaintext. The forwarder part only finds the way; the hub may misroute, it cannot
 * impersonate.
 *
 * It is an `Addressable` (its `address` is the forwarder's), so `route([TCP, hub], forwardingAddress)`
 * leads to the listener behind it.
 */
export class ForwardingAddress implements Addressable {
  private constructor(
    /** The forwarder's address on the hub (`fwd.…`). */
    readonly forwarder: string,
    /** The identifier (`I` + 40 hex digits) of the identity expected behind the forwarder. */
    readonly identifier: string,
  ) {}

  /**
   * The forwarding address of `identity` (its identifier, or anything with one) behind `forwarder` (a
   * forwarder's address, or a `RemoteForwarder`). Throws `ServicesError` `INVALID_FORWARDING_ADDRESS` if
   * either part is malformed.
   */
  static of(
    forwarder: string | { readonly forwardingAddress: string },
    identity: string | { readonly identifier: string },
  ): ForwardingAddress {
    const at = typeof forwarder === 'string' ? forwarder : forwarder.forwardingAddress;
    const identifier = typeof identity === 'string' ? identity : identity.identifier;
    if (!FORWARDER.test(at)) throw invalid('the forwarder is not 1..128 of A-Z a-z 0-9 . _ -');
    if (!IDENTIFIER_PATTERN.test(identifier)) throw invalid('the identifier is not I and 40 hex digits');
    return new ForwardingAddress(at, identifier);
  }

  /**
   * Parses `<identifier>@<forwarder>` as `format` prints it (surrounding whitespace, as pasted, is ignored).
   * Anything else, or anything longer than `MAX_FORWARDING_ADDRESS_LENGTH`, is `ServicesError`
   * `INVALID_FORWARDING_ADDRESS`; the message never echoes the input.
   */
  static parse(text: string): ForwardingAddress {
    if (typeof text !== 'string') throw invalid('not a string');
    const trimmed = text.trim();
    if (trimmed.length > MAX_FORWARDING_ADDRESS_LENGTH) {
      throw invalid(`longer than ${MAX_FORWARDING_ADDRESS_LENGTH} characters`);
    }
    const at = trimmed.indexOf('@');
    if (at < 0) throw invalid('expected <identifier>@<forwarder>, as Bob prints it');
    return ForwardingAddress.of(trimmed.slice(at + 1), trimmed.slice(0, at));
  }

  /** The forwarder's address on the hub: what a route to the listener passes through. */
  get address(): Address {
    return Address.local(this.forwarder);
  }

  /** Trusts exactly the identity this address names: the policy to open a channel to it with. */
  get trustPolicy(): TrustPolicy {
    return TrustIdentifier(this.identifier);
  }

  /**
   * Calls `report` with the forwarding address of `identity` behind `forwarder` now, and again whenever a
   * registration changes it (a hub that restarted without the forwarder's random address): whoever reaches
   * the listener needs the new one. Returns a function that stops the reports.
   */
  static watch(
    forwarder: RegisteringForwarder,
    identity: string | { readonly identifier: string },
    report: (address: ForwardingAddress) => void,
  ): () => void {
    let last = ForwardingAddress.of(forwarder, identity);
    report(last);
    const registered = (): void => {
      const now = ForwardingAddress.of(forwarder, identity);
      if (now.forwarder !== last.forwarder) report((last = now));
    };
    forwarder.on('registered', registered);
    return () => void forwarder.off('registered', registered);
  }

  /** `<identifier>@<forwarder>`: what to print and hand over. */
  format(): string {
    return `${this.identifier}@${this.forwarder}`;
  }

  toString(): string {
    return this.format();
  }

  toJSON(): string {
    return this.format();
  }
}

function invalid(detail: string): ServicesError {
  return new ServicesError('INVALID_FORWARDING_ADDRESS', `invalid forwarding address: ${detail}`);
}
