import { CredentialError } from '../identity/errors';
import type { TrustedAuthorities } from '../identity/credential';
import type { RegistrationAdmission, RegistrationRefusal } from './forwarding-options';

/** The attribute that lets its holder register a forwarder: the name, or `*` for any name. */
export const RELAY_ATTRIBUTE = 'relay';

/**
 * A hub's admission of forwarder registrations by credential, as Ockam's relay service does: a
 * registration is admitted only if it is for a name, proves its identity (a signed claim, as for any bound
 * name), and carries a credential from one of `authorities`, about that identity and valid now, whose
 * `relay` attribute is the name or `*`. A random-address registration proves no identity, so a hub with an
 * authority refuses it. Refusals say why (`NOT_AUTHORIZED`), naming the credential's error code.
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
    let relay: string | undefined;
    try {
      relay = authorities.verify(credential, owner, options).attributes[RELAY_ATTRIBUTE];
    } catch (error) {
      if (error instanceof CredentialError) return refuse(`the credential was refused (${error.code})`);
      throw error;
    }
    if (relay !== name && relay !== '*') {
      return refuse(`the credential gives ${RELAY_ATTRIBUTE}=${relay ?? '(none)'}, not ${name}`);
    }
    return undefined;
  };
}
