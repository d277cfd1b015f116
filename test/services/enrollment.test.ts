import { createSecureChannelListener } from '../../src/channel/create-secure-channel-listener';
import { Identity, TrustAnyIdentity, TrustedAuthorities } from '../../src/identity';
import { AuthorityService } from '../../src/services/authority';
import { joinWithTicket } from '../../src/services/enrollment';
import { EnrollmentTicket } from '../../src/services/enrollment-ticket';
import { InMemoryVault } from '../../src/vault';
import { Cleanup, startTcpNode, type TcpTestNode } from '../helpers/tcp-fixtures';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

let vault: InMemoryVault;
let authorityIdentity: Identity;
beforeAll(async () => {
  vault = await InMemoryVault.create();
  authorityIdentity = await Identity.create(vault);
});

/** An authority on its own TCP node, as examples/authority.ts runs it, and a ticket string for it. */
async function authorityWithTicket(
  attributes: Record<string, string>,
): Promise<{ service: AuthorityService; ticket: string }> {
  const node = await startTcpNode(cleanup);
  await createSecureChannelListener(node.ctx, authorityIdentity, 'authority_listener', {
    trustPolicy: TrustAnyIdentity,
  });
  const service = await AuthorityService.start(node.ctx, authorityIdentity, 'authority', {
    credentialTtlMs: 60_000,
  });
  const { code } = await service.createTicket({ attributes });
  return { service, ticket: EnrollmentTicket.of(code, authorityIdentity, node.address).format() };
}

async function member(node: TcpTestNode, identity: Identity, ticket: string) {
  const membership = await joinWithTicket(node.ctx, identity, ticket);
  cleanup.add(() => membership.credentials.stop());
  return membership;
}

describe('joinWithTicket', () => {
  it('enrolls with a ticket string, then, with the same used ticket, asks again as the member it is', async () => {
    const { service, ticket } = await authorityWithTicket({ role: 'echoer' });
    const node = await startTcpNode(cleanup, { listen: false });
    const bob = await Identity.create(vault);
    const first = await member(node, bob, ticket);
    expect(first.enrolled).toBe(true);
    expect(first.authority.identifier).toBe(authorityIdentity.identifier);
    const trusted = TrustedAuthorities.of(vault, [first.authority]);
    expect(trusted.verify(first.credentials.current()[0]!, bob.identifier).attributes).toEqual({
      role: 'echoer',
    });

    const again = await member(node, bob, ticket); // Bob started again with the ticket he used
    expect(again.enrolled).toBe(false);
    expect(trusted.verify(again.credentials.current()[0]!, bob.identifier).attributes.role).toBe('echoer');
    expect(service.stats()).toMatchObject({ enrollments: 1, members: 1 });

    // A renewal asks the authority again (over a new channel each time).
    const issued = service.stats().credentialsIssued;
    await again.credentials.renew();
    expect(service.stats().credentialsIssued).toBe(issued + 1);
    expect(trusted.verify(again.credentials.current()[0]!, bob.identifier).attributes.role).toBe('echoer');
  });

  it('refuses another identity a used ticket (TICKET_USED), and a string that is not a ticket', async () => {
    const { ticket } = await authorityWithTicket({ role: 'echoer' });
    const node = await startTcpNode(cleanup, { listen: false });
    await member(node, await Identity.create(vault), ticket);
    await expect(joinWithTicket(node.ctx, await Identity.create(vault), ticket)).rejects.toMatchObject({
      code: 'TICKET_USED',
    });
    await expect(joinWithTicket(node.ctx, await Identity.create(vault), 'hello')).rejects.toMatchObject({
      code: 'INVALID_TICKET',
    });
  });
});
