import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { Identity, TrustedAuthorities } from '../../src/identity';
import { AuthorityClient } from '../../src/services/authority-client';
import { EnrollmentTicket } from '../../src/services/enrollment-ticket';
import { InMemoryVault } from '../../src/vault';
import { scaled } from '../helpers/slowdown';
import { SpawnedExample } from '../helpers/spawned-example';
import { Cleanup, startTcpNode, type TcpTestNode } from '../helpers/tcp-fixtures';

// Real processes on a busy machine: a budget scaled by its measured slowdown.
jest.setTimeout(scaled(90_000));

const cleanup = new Cleanup();
let home: string;
beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'sealroute-authority-home-'))));
afterEach(async () => {
  await cleanup.run();
  rmSync(home, { recursive: true, force: true });
});

const LISTENING = /^Authority listening on (\S+)$/;
const IDENTIFIER = /^Authority identifier: (I[0-9a-f]{40})$/;
const KEY = /^Authority public key: ([0-9a-f]{64})$/;
const TICKET = /^Ticket \(role=printed\): (\S+)$/;

function startAuthority(args: string[], enrollers: string): SpawnedExample {
  const authority = SpawnedExample.start('examples/authority.ts', {
    args,
    env: { SEALROUTE_HOME: home, SEALROUTE_ENROLLERS: enrollers, SEALROUTE_LOG: 'warn' },
  });
  cleanup.add(() => authority.stop('SIGKILL'));
  return authority;
}

describe('examples/authority.ts as a process', () => {
  it('loses no member and no unused ticket when it is killed with SIGKILL', async () => {
    const vault = await InMemoryVault.create();
    const admin = await Identity.create(vault);
    const first = startAuthority(['127.0.0.1:0', '--ticket', 'role=printed'], admin.identifier);
    const address = (await first.waitForLine(LISTENING, 30_000))[1]!;
    const authorityKey = (await first.waitForLine(KEY, 1_000))[1]!;
    const authorityId = (await first.waitForLine(IDENTIFIER, 1_000))[1]!;
    const printed = EnrollmentTicket.parse((await first.waitForLine(TICKET, 1_000))[1]!);
    expect(printed.authority.identifier).toBe(authorityId);
    expect(printed.address).toBe(address);

    const client = await startTcpNode(cleanup, { listen: false });
    const connect = (node: TcpTestNode, identity: Identity) =>
      AuthorityClient.connect(node.ctx, identity, route([TCP, address], 'authority_listener'), authorityKey);
    const enroller = await connect(client, admin);
    // A burst of changes, each acknowledged only once it is on disk; the kill follows the last answer.
    const members = await Promise.all(Array.from({ length: 12 }, () => Identity.create(vault)));
    await Promise.all(members.map((m, i) => enroller.addMember(m.identifier, { role: `member-${i}` })));
    const unused = await enroller.createTicket({ attributes: { role: 'unused' }, ttlMs: 600_000 });
    const used = await enroller.createTicket({ attributes: { role: 'used' } });
    const enrolled = await Identity.create(vault);
    await (await connect(client, enrolled)).enroll(used.code);
    expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

    const second = startAuthority(['127.0.0.1:0'], admin.identifier);
    const again = (await second.waitForLine(LISTENING, 30_000))[1]!;
    expect((await second.waitForLine(IDENTIFIER, 1_000))[1]).toBe(authorityId);
    const client2 = await startTcpNode(cleanup, { listen: false });
    const connect2 = (identity: Identity) =>
      AuthorityClient.connect(client2.ctx, identity, route([TCP, again], 'authority_listener'), authorityKey);
    const trusted = TrustedAuthorities.of(vault, [authorityKey]);

    const listed = new Map(
      (await (await connect2(admin)).members()).map((m) => [m.identifier, m.attributes.role]),
    );
    members.forEach((m, i) => expect(listed.get(m.identifier)).toBe(`member-${i}`));
    expect(listed.get(enrolled.identifier)).toBe('used');
    for (const [code, role] of [
      [unused.code, 'unused'],
      [printed.code, 'printed'],
    ] as const) {
      const newcomer = await Identity.create(vault);
      expect(
        trusted.verify(await (await connect2(newcomer)).enroll(code), newcomer.identifier).attributes.role,
      ).toBe(role);
    }
    await expect((await connect2(await Identity.create(vault))).enroll(used.code)).rejects.toMatchObject({
      code: 'TICKET_USED',
    });
  });
});
