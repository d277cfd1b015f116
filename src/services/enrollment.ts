import { TCP } from '../core/address';
import { route } from '../core/route';
import type { Authority } from '../identity/credential';
import type { Identity } from '../identity/identity';
import type { Context } from '../node/context';
import type { Logger } from '../node/logger';
import { AuthorityClient } from './authority-client';
import { AuthorityError } from './authority-errors';
import { EnrollmentTicket } from './enrollment-ticket';
import { MemberCredentials } from './member-credentials';

/** What `joinWithTicket` may be told. */
export interface JoinOptions {
  /** The authority's secure channel listener on its node. Default `authority_listener` (examples/authority.ts). */
  readonly listener?: string;
  /** Where failed renewals are logged. */
  readonly logger?: Logger;
}

/** A node's membership of an authority: its renewing credentials, and the authority that vouches. */
export interface Membership {
  /** This identity's credential, renewed before it expires: present it (`credentials`), `stop()` when done. */
  readonly credentials: MemberCredentials;
  /** The authority, to trust what it vouches for (`TrustCredential({ authority, attributes })`). */
  readonly authority: Authority;
  /** True if this call enrolled the identity; false if it was a member already (the ticket was used). */
  readonly enrolled: boolean;
}

/**
 * Joins the authority an enrollment ticket names (its address and identity key are in the ticket), over a
 * TCP connection of the node of `ctx` and a secure channel that trusts only that authority: enrolls with
 * the ticket, or, if the ticket was used already and this identity is a member (a node started again with
 * the same ticket), asks for a credential. The credential is then renewed at half its lifetime, each time
 * over a new channel (the authority may have restarted meanwhile). Rejects with `AuthorityError`
 * (`INVALID_TICKET`, `BAD_TICKET`, `TICKET_EXPIRED`, `TICKET_USED`...) or the channel's error.
 */
export async function joinWithTicket(
  ctx: Context,
  identity: Identity,
  ticket: EnrollmentTicket | string,
  options: JoinOptions = {},
): Promise<Membership> {
  const parsed = typeof ticket === 'string' ? EnrollmentTicket.parse(ticket) : ticket;
  const to = route([TCP, parsed.address], options.listener ?? 'authority_listener');
  const ask = async <T>(request: (client: AuthorityClient) => Promise<T>): Promise<T> => {
    const client = await AuthorityClient.connect(ctx, identity, to, parsed.authority);
    try {
      return await request(client);
    } finally {
      await client.close().catch(() => undefined);
    }
  };
  let enrolled = true;
  const first = await ask(async (client) => {
    try {
      return await client.enroll(parsed.code);
    } catch (error) {
      if (!(error instanceof AuthorityError) || error.code !== 'TICKET_USED') throw error;
      enrolled = false;
      // Used, perhaps by this identity on an earlier run: a member gets a credential; anyone else the error.
      return client.credential().catch(() => Promise.reject(error));
    }
  });
  const credentials = await MemberCredentials.start({
    initial: first,
    fetch: () => ask((client) => client.credential()),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  return { credentials, authority: parsed.authority, enrolled };
}
