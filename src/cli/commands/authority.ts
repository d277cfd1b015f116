/**
 * `sealroute authority start`, `authority ticket create`, `authority member list|add|remove` and
 * `sealroute enroll <ticket>`: an authority run from the shell, and members that enroll with its tickets.
 */
import { resolveAuthority, rememberAuthority, saveCredential, type KnownAuthority } from '../authorities';
import type { EnrollmentTicket as Ticket } from '../../index';
import { connectAuthority } from '../node-credentials';
import { CliError, step, table } from '../output';
import { oneShot } from './message';

/** `k=v` pairs as attributes (a usage error names the bad one). */
export function attributesOf(pairs: readonly string[] | undefined): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError('USAGE', `--attribute takes key=value, got "${pair}"`);
    attributes[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return attributes;
}

interface ClientArgs {
  authority?: string;
  at?: string;
  identity?: string;
  passphraseFile?: string;
}

/** Runs `work` with a client of the authority, as the identity the arguments name. */
async function withAuthority<T>(
  args: ClientArgs,
  work: (client: import('../../index').AuthorityClient, authority: KnownAuthority) => Promise<T>,
): Promise<T> {
  const authority = resolveAuthority(args.authority);
  return oneShot(args, async ({ ctx, identity }) => {
    const client = await step(`connecting to authority ${authority.identifier}`, () =>
      connectAuthority(ctx, identity, authority, args.at ?? authority.address),
    );
    try {
      return await work(client, authority);
    } finally {
      await client.close().catch(() => undefined);
    }
  });
}

/** `authority ticket create`: prints a ticket (the whole of standard output, for scripts). */
export async function ticketCreate(
  args: ClientArgs & { attribute?: string[]; ttl: number; usage: number },
): Promise<void> {
  const attributes = attributesOf(args.attribute);
  const text = await withAuthority(args, async (client, authority) => {
    const { EnrollmentTicket } = await import('../../index');
    const ticket = await client.createTicket({ attributes, ttlMs: args.ttl * 1000, usageCount: args.usage });
    const address = args.at ?? authority.address!;
    return EnrollmentTicket.of(ticket.code, authority.publicKey, address).format();
  });
  process.stdout.write(`${text}\n`);
}

/** `authority member list`. */
export async function memberList(args: ClientArgs & { json?: boolean }): Promise<void> {
  const members = await withAuthority(args, (client) => client.members());
  if (args.json === true) {
    process.stdout.write(`${JSON.stringify(members, null, 2)}\n`);
    return;
  }
  const attributesText = (attributes: Readonly<Record<string, string>>): string =>
    Object.entries(attributes)
      .map(([key, value]) => `${key}=${value}`)
      .join(',');
  process.stdout.write(
    `${table(
      ['identifier', 'attributes'],
      members.map((m) => [m.identifier, attributesText(m.attributes)]),
    )}\n`,
  );
}

/** `authority member add <identifier> [--attribute k=v ...]`. */
export async function memberAdd(
  args: ClientArgs & { identifier: string; attribute?: string[] },
): Promise<void> {
  const attributes = attributesOf(args.attribute);
  await withAuthority(args, (client) => client.addMember(args.identifier, attributes));
  process.stdout.write(`Added ${args.identifier}\n`);
}

/** `authority member remove <identifier>`. */
export async function memberRemove(args: ClientArgs & { identifier: string }): Promise<void> {
  await withAuthority(args, (client) => client.removeMember(args.identifier));
  process.stdout.write(`Removed ${args.identifier}\n`);
}

/** `enroll <ticket>`: the identity becomes a member; its credential is kept for later commands. */
export async function enroll(args: {
  ticket: string;
  identity?: string;
  passphraseFile?: string;
}): Promise<void> {
  const { EnrollmentTicket, decodeCredential } = await import('../../index');
  let ticket: Ticket;
  try {
    ticket = EnrollmentTicket.parse(args.ticket);
  } catch (cause) {
    throw new CliError('USAGE', 'that is not an enrollment ticket (sealroute-ticket:…)', { cause });
  }
  const authority: KnownAuthority = {
    identifier: ticket.authority.identifier,
    publicKey: Buffer.from(ticket.authority.publicKey).toString('hex'),
    address: ticket.address,
  };
  const { defaultIdentity } = await import('../identities');
  const name = args.identity ?? defaultIdentity();
  const credential = await oneShot({ ...args, identity: name }, async ({ ctx, identity }) => {
    const client = await step(`connecting to authority ${authority.identifier} at ${ticket.address}`, () =>
      connectAuthority(ctx, identity, authority),
    );
    try {
      return await client.enroll(ticket.code);
    } finally {
      await client.close().catch(() => undefined);
    }
  });
  await rememberAuthority(authority);
  await saveCredential(name, authority, credential);
  const decoded = decodeCredential(credential);
  const attributes = Object.entries(decoded.attributes).map(([key, value]) => `${key}=${value}`);
  process.stdout.write(
    `Enrolled ${name} (${decoded.subject}) with authority ${authority.identifier}: ` +
      `${attributes.length === 0 ? '(no attributes)' : attributes.join(', ')}; ` +
      `credential valid until ${new Date(decoded.expiresAt).toISOString()}\n`,
  );
}
