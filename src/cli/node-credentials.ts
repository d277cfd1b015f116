/**
 * A node's credential from `sealroute enroll`: presented in its secure channels and relay registrations,
 * renewed at its authority before it expires (and kept, renewed, for the next command).
 */
import {
  AuthorityClient,
  MemberCredentials,
  TCP,
  decodeCredential,
  route,
  type Context,
  type Identity,
} from '../index';
import { loadCredential, saveCredential, type KnownAuthority } from './authorities';
import { CliError } from './output';

/** The address of an authority's listener on its node, and of the authority worker behind it. */
export const AUTHORITY_LISTENER = 'authority_listener';
export const AUTHORITY_SERVICE = 'authority';

/** Opens a client of `authority` as `identity`, from `ctx`'s node over TCP. */
export async function connectAuthority(
  ctx: Context,
  identity: Identity,
  authority: KnownAuthority,
  address = authority.address,
): Promise<AuthorityClient> {
  if (address === undefined) {
    throw new CliError(
      'USAGE',
      `where authority ${authority.identifier} listens is not known here (give --at host:port)`,
    );
  }
  return AuthorityClient.connect(
    ctx,
    identity,
    route([TCP, address], AUTHORITY_LISTENER),
    authority.publicKey,
    {
      service: AUTHORITY_SERVICE,
    },
  );
}

/**
 * The credential identity `name` enrolled for, as a renewing provider; undefined when it has none. A stored
 * credential still valid is used at once (no network); an expired one is fetched again from its authority.
 */
export async function enrolledCredentials(
  ctx: Context,
  identity: Identity,
  name: string,
): Promise<MemberCredentials | undefined> {
  const stored = loadCredential(name);
  if (stored === undefined) return undefined;
  const fetch = async (): Promise<Uint8Array> => {
    const client = await connectAuthority(ctx, identity, stored.authority);
    try {
      const fresh = await client.credential();
      await saveCredential(name, stored.authority, fresh);
      return fresh;
    } finally {
      await client.close().catch(() => undefined);
    }
  };
  // A minute of margin: a credential about to expire is not worth presenting.
  const valid = decodeCredential(stored.credential).expiresAt > Date.now() + 60_000;
  return MemberCredentials.start({ fetch, ...(valid ? { initial: stored.credential } : {}) });
}
