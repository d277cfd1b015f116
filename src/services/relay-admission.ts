import { CredentialError } from '../identity/errors';
import {
  DEFAULT_CLOCK_SKEW_MS,
  type TrustedAuthorities,
  type VerifiedCredential,
} from '../identity/credential';
import type { RegistrationAdmission, RegistrationRefusal } from './forwarding-options';

/** The attribute that lets its holder register a forwarder: the name, or `*` for any name. */
export const RELAY_ATTRIBUTE = 'relay';

/**
 * A hub's admission of forwarder registrations by credential, as Ockam's relay service does: a
 * registration is admitted only if it is for a name, proves its identity (a signed claim, as for any bound
 * name), and carries a credential from one of `authorities`, about that identity and valid now, whose
 * `relay` attribute is the name or `*`. A random-address registration proves no identity, so a hub with an
 * authority refuses it. Refusals say why (`NOT_AUTHORIZED`), naming the credential's error code.
 *
 * The admission lasts as long as the credential (its expiry plus the clock skew allowance): the hub then
 * drops the forwarder unless its holder registered again meanwhile with a renewed credential (a
 * `RemoteForwarder` given a renewing `credential` provider does so whenever it changes).
 */
export function relayAdmission(
  authorities: TrustedAuthorities,
  options: { readonly clockSkewMs?: number } = {},
): RegistrationAdmission {
  const refuse = (reason: string): RegistrationRefusal => ({ code: 'NOT_AUTHORIZED', reason });
  return ({ name, owner, request }) => {
    if (name === undefined || owner === undefined) {
      return refuse(
        'this hub admits only named forwarders bound to an identity, with a credential giving relay=<name>',
      );
    }
    const credential = request.credential;
    if (credential === undefined) return refuse(`a credential giving ${RELAY_ATTRIBUTE}=${name} is needed`);
    let verified: VerifiedCredential;
    try {
      verified = authorities.verify(credential, owner, options);
    } catch (error) {
      if (error instanceof CredentialError) return refuse(`the credential was refused (${error.code})`);
      throw error;
    }
    const relay = verified.attributes[RELAY_ATTRIBUTE];
    if (relay !== name && relay !== '*') {
      return refuse(`the credential gives ${RELAY_ATTRIBUTE}=${relay ?? '(none)'}, not ${name}`);
    }
    return { admittedUntil: verified.expiresAt + (options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS) };
  };
}
