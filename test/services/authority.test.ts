import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureChannelListener } from '../../src/channel/create-secure-channel-listener';
import { Identity, TrustAnyIdentity, TrustedAuthorities } from '../../src/identity';
import type { NodeRuntime } from '../../src/node/node-runtime';
import { AuthorityClient } from '../../src/services/authority-client';
import { AuthorityError } from '../../src/services/authority-errors';
import { AuthorityService } from '../../src/services/authority';
import { EnrollmentTicket } from '../../src/services/enrollment-ticket';
import { MemberCredentials } from '../../src/services/member-credentials';
import { InMemoryVault } from '../../src/vault';
import { CapturingLogger } from '../helpers/capturing-logger';
import { newNode, stopNodes } from '../helpers/nodes';

let dir: string;
let vault: InMemoryVault;
let node: NodeRuntime;
let logger: CapturingLogger;
let authorityIdentity: Identity;
let admin: Identity;

beforeAll(async () => {
  vault = await InMemoryVault.create();
  authorityIdentity = await Identity.create(vault);
  admin = await Identity.create(vault);
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sealroute-authority-'));
  logger = new CapturingLogger();
  node = newNode({ logger });
});
afterEach(async () => {
  await stopNodes();
  rmSync(dir, { recursive: true, force: true });
});

async function startAuthority(options: Parameters<typeof AuthorityService.start>[3] = {}) {
  await createSecureChannelListener(node.context(), authorityIdentity, 'authority_listener', {
    trustPolicy: TrustAnyIdentity,
  });
  return AuthorityService.start(node.context(), authorityIdentity, 'authority', {
    enrollers: [admin.identifier],
    statePath: join(dir, 'members.json'),
    ...options,
  });
}

async function clientFor(identity: Identity): Promise<AuthorityClient> {
  return AuthorityClient.connect(node.context(), identity, 'authority_listener', authorityIdentity);
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AuthorityError);
    return (error as AuthorityError).code;
  }
  throw new Error('expected an AuthorityError');
}

const trusted = () => TrustedAuthorities.of(vault, [authorityIdentity]);

describe('AuthorityService', () => {
  it('enrolls a new identity with a ticket and issues it credentials with the ticket attributes', async () => {
    const authority = await startAuthority();
    const enroller = await clientFor(admin);
    const ticket = await enroller.createTicket({ attributes: { role: 'db-client' } });
    const newcomer = await Identity.create(vault);
    const client = await clientFor(newcomer);
    const first = trusted().verify(await client.enroll(ticket.code), newcomer.identifier);
    expect({ ...first.attributes }).toEqual({ role: 'db-client' });
    const again = trusted().verify(await client.credential(), newcomer.identifier);
    expect(again.attributes.role).toBe('db-client');
    expect(authority.stats()).toMatchObject({ enrollments: 1, credentialsIssued: 2 });
    expect(logger.at('info').some((e) => e.msg === 'member enrolled with a ticket')).toBe(true);
  });

  it('refuses a ticket used twice', async () => {
    const authority = await startAuthority();
    const { code } = await (await clientFor(admin)).createTicket({ attributes: { role: 'x' } });
    await (await clientFor(await Identity.create(vault))).enroll(code);
    expect(await refusal((await clientFor(await Identity.create(vault))).enroll(code))).toBe('TICKET_USED');
    expect(authority.stats().refused.TICKET_USED).toBe(1);
  });

  it('lets a ticket be used usageCount times', async () => {
    await startAuthority();
    const { code } = await (await clientFor(admin)).createTicket({ usageCount: 2 });
    await (await clientFor(await Identity.create(vault))).enroll(code);
    await (await clientFor(await Identity.create(vault))).enroll(code);
    expect(await refusal((await clientFor(await Identity.create(vault))).enroll(code))).toBe('TICKET_USED');
  });

  it('refuses an expired ticket', async () => {
    const authority = await startAuthority();
    const { code, expiresAt } = await (await clientFor(admin)).createTicket({ ttlMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 10));
    expect(await refusal((await clientFor(await Identity.create(vault))).enroll(code))).toBe(
      'TICKET_EXPIRED',
    );
    expect(authority.stats().refused.TICKET_EXPIRED).toBe(1);
  });

  it('refuses a guessed ticket (right id, wrong secret; unknown id; garbage) the same way, logs and counts each', async () => {
    const authority = await startAuthority();
    const { code } = await (await clientFor(admin)).createTicket();
    const [id] = code.split('.');
    const guesser = await clientFor(await Identity.create(vault));
    expect(await refusal(guesser.enroll(`${id}.${'0'.repeat(32)}`))).toBe('BAD_TICKET');
    expect(await refusal(guesser.enroll(`${'1'.repeat(16)}.${'0'.repeat(32)}`))).toBe('BAD_TICKET');
    expect(await refusal(guesser.enroll('not a ticket'))).toBe('BAD_TICKET');
    expect(authority.stats().refused.BAD_TICKET).toBe(3);
    expect(logger.at('warn').filter((e) => e.msg === 'enrollment refused')).toHaveLength(3);
    // The real ticket still works after the failed guesses.
    await (await clientFor(await Identity.create(vault))).enroll(code);
  });

  it('refuses further attempts from an identity that failed too often', async () => {
    const authority = await startAuthority({ maxFailedEnrollmentsPerMinute: 3 });
    const { code } = await (await clientFor(admin)).createTicket();
    const guesser = await clientFor(await Identity.create(vault));
    for (let i = 0; i < 3; i++) await refusal(guesser.enroll(`${'2'.repeat(16)}.${'0'.repeat(32)}`));
    expect(await refusal(guesser.enroll(code))).toBe('LIMIT_REACHED');
    expect(authority.stats().refused.LIMIT_REACHED).toBe(1);
  });

  it('lets only enrollers add and remove members or make tickets; a removed member gets no credential', async () => {
    await startAuthority();
    const enroller = await clientFor(admin);
    const member = await Identity.create(vault);
    const memberClient = await clientFor(member);
    expect(await refusal(memberClient.credential())).toBe('NOT_MEMBER');
    await enroller.addMember(member.identifier, { role: 'db' });
    expect(trusted().verify(await memberClient.credential(), member.identifier).attributes.role).toBe('db');
    expect(await refusal(memberClient.createTicket())).toBe('NOT_ENROLLER');
    expect(await refusal(memberClient.addMember(member.identifier, { role: 'admin' }))).toBe('NOT_ENROLLER');
    expect(await refusal(memberClient.removeMember(admin.identifier))).toBe('NOT_ENROLLER');
    expect((await enroller.members()).map((m) => m.identifier).sort()).toEqual(
      [admin.identifier, member.identifier].sort(),
    );
    await enroller.removeMember(member.identifier);
    expect(await refusal(memberClient.credential())).toBe('NOT_MEMBER');
  });

  it('refuses a ticket that would grant enroller, and options out of range', async () => {
    await startAuthority();
    expect(await refusal((await clientFor(admin)).createTicket({ attributes: { enroller: 'true' } }))).toBe(
      'INVALID_REQUEST',
    );
    expect(await refusal((await clientFor(admin)).createTicket({ ttlMs: 365 * 24 * 3_600_000 }))).toBe(
      'INVALID_REQUEST',
    );
    await expect(
      AuthorityService.start(node.context(), authorityIdentity, 'authority2', { credentialTtlMs: 0 }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });

  it('keeps members and unused tickets on disk, never a ticket secret', async () => {
    await startAuthority();
    const enroller = await clientFor(admin);
    const member = await Identity.create(vault);
    await enroller.addMember(member.identifier, { role: 'db' });
    const { code } = await enroller.createTicket({ attributes: { role: 'web' } });
    const text = readFileSync(join(dir, 'members.json'), 'utf8');
    expect(text).toContain(member.identifier);
    expect(text).not.toContain(code.split('.')[1]);
    await node.stop();

    node = newNode({ logger });
    await startAuthority();
    const newcomer = await Identity.create(vault);
    const credential = await (await clientFor(newcomer)).enroll(code);
    expect(trusted().verify(credential, newcomer.identifier).attributes.role).toBe('web');
    expect(
      trusted().verify(await (await clientFor(member)).credential(), member.identifier).attributes.role,
    ).toBe('db');
  });

  it('refuses a second authority on the same member table', async () => {
    await startAuthority();
    await expect(
      AuthorityService.start(node.context(), authorityIdentity, 'authority2', {
        statePath: join(dir, 'members.json'),
      }),
    ).rejects.toMatchObject({ code: 'STATE_FILE' });
  });
});

describe('EnrollmentTicket', () => {
  it('round-trips as one short string and refuses anything else', () => {
    const ticket = EnrollmentTicket.of(
      `${'a'.repeat(16)}.${'b'.repeat(32)}`,
      authorityIdentity,
      '127.0.0.1:5000',
    );
    const text = ticket.format();
    expect(text.length).toBeLessThan(160);
    const parsed = EnrollmentTicket.parse(text);
    expect(parsed.code).toBe(ticket.code);
    expect(parsed.authority.identifier).toBe(authorityIdentity.identifier);
    expect(parsed.address).toBe('127.0.0.1:5000');
    expect(JSON.stringify(parsed)).not.toContain('bbbb');
    for (const bad of ['', 'sealroute-ticket:', 'sealroute-ticket:!!!', text.slice(0, -4), 'x'.repeat(600)]) {
      expect(() => EnrollmentTicket.parse(bad)).toThrow(AuthorityError);
    }
  });
});

describe('MemberCredentials', () => {
  it('renews the credential before it expires and tells its listeners', async () => {
    await startAuthority({ credentialTtlMs: 400 });
    const member = await Identity.create(vault);
    await (await clientFor(admin)).addMember(member.identifier, { role: 'db' });
    const client = await clientFor(member);
    const credentials = await MemberCredentials.start({ fetch: () => client.credential() });
    try {
      const first = credentials.expiresAt;
      const changed = new Promise<void>((resolve) => credentials.onChange(resolve));
      await changed;
      expect(credentials.expiresAt).toBeGreaterThan(first);
      expect(trusted().verify(credentials.current()[0]!, member.identifier).attributes.role).toBe('db');
    } finally {
      credentials.stop();
    }
  });
});
