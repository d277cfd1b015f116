import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scaled } from '../helpers/slowdown';
import { cliSession, runCli } from './cli-process';

// Many real processes on a busy machine: a budget scaled by its measured slowdown.
jest.setTimeout(scaled(120_000));

const session = cliSession();
const { env, start, ok } = session;

describe('an authority, enrollment and a hub that admits relays by credential, from a shell', () => {
  let authorityId: string;
  let hub: string;
  let hubWs: string;
  let forwardingAddress: string;

  beforeAll(async () => {
    await ok(['identity', 'create', 'admin']);
    const authority = start(['authority', 'start', '--tcp', '127.0.0.1:0', '--enroller', 'admin']);
    authorityId = (await authority.waitFor(/Authority identifier: (I[0-9a-f]{40})/))[1]!;
    await authority.waitFor(/Authority listening on (\S+)/);
    // Named by identifier: `authority start` recorded its public key in the config directory.
    const hubProcess = start([
      'hub',
      'start',
      '--tcp',
      '127.0.0.1:0',
      '--ws',
      '127.0.0.1:0',
      '--authority',
      authorityId,
    ]);
    hub = (await hubProcess.waitFor(/Hub listening on (\d\S+)/))[1]!;
    hubWs = (await hubProcess.waitFor(/Hub listening on WebSocket (\S+)/))[1]!;
  });

  it('enrolls Bob with a ticket an enroller made, and the hub admits his relay by the credential', async () => {
    const ticket = (
      await ok(['authority', 'ticket', 'create', '--identity', 'admin', '--attribute', 'relay=bob'])
    ).trim();
    expect(ticket).toMatch(/^sealroute-ticket:[A-Za-z0-9_-]+$/);
    const enrolled = await ok(['enroll', ticket, '--identity', 'bob']);
    expect(enrolled).toMatch(
      new RegExp(`^Enrolled bob \\(I[0-9a-f]{40}\\) with authority ${authorityId}: relay=bob;`),
    );

    // The ticket was for one identity: a second enrollment with it is refused, naming why.
    const again = await runCli(['enroll', ticket, '--identity', 'eve'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/AuthorityError TICKET_USED/);

    const bob = start([
      'node',
      'start',
      '--identity',
      'bob',
      '--echoer',
      '--relay',
      hub,
      '--relay-name',
      'bob',
    ]);
    forwardingAddress = (await bob.waitFor(/Forwarding address: (\S+)/))[1]!;
    expect(forwardingAddress).toMatch(/^I[0-9a-f]{40}@fwd\.n\.bob$/);
    expect(bob.stdout).toContain('Presenting the credential from enrolling bob');

    // Alice reaches Bob's echoer through the hub over WebSocket, and over TCP.
    for (const transport of [`/ws/${hubWs}`, `/tcp/${hub}`]) {
      const sent = await ok([
        'message',
        'send',
        `${transport}/relay/${forwardingAddress}/service/echoer`,
        'hi',
      ]);
      expect(sent).toBe('hi\n');
    }
  });

  it("refuses a relay without a credential, and one for a name Bob's credential does not give", async () => {
    const eve = await runCli(
      ['node', 'start', '--identity', 'eve', '--echoer', '--relay', hub, '--relay-name', 'eve'],
      env,
    );
    expect(eve.code).toBe(1);
    expect(eve.stderr).toMatch(/NOT_AUTHORIZED.*a credential giving relay=eve is needed/);

    const carol = await runCli(['relay', 'create', '--node', 'bob', '--hub', hub, '--name', 'carol'], env);
    expect(carol.code).toBe(1);
    expect(carol.stderr).toMatch(/NOT_AUTHORIZED.*gives relay=bob, not carol/);
  });

  it('lists, adds and removes members (an enroller only)', async () => {
    const bobId = forwardingAddress.split('@')[0]!;
    const members = JSON.parse(await ok(['authority', 'member', 'list', '--identity', 'admin', '--json']));
    expect(members).toEqual(
      expect.arrayContaining([expect.objectContaining({ identifier: bobId, attributes: { relay: 'bob' } })]),
    );
    const someone = 'I' + 'ab'.repeat(20);
    await ok(['authority', 'member', 'add', someone, '--identity', 'admin', '--attribute', 'role=x']);
    expect(await ok(['authority', 'member', 'list', '--identity', 'admin'])).toMatch(
      new RegExp(`${someone}\\s+role=x`),
    );
    await ok(['authority', 'member', 'remove', someone, '--identity', 'admin']);
    expect(await ok(['authority', 'member', 'list', '--identity', 'admin'])).not.toContain(someone);

    // Eve is no enroller (Bob's node holds his vault open, so another identity asks).
    const refused = await runCli(['authority', 'member', 'list', '--identity', 'eve'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/AuthorityError NOT_ENROLLER/);
  });

  it('admits channels and messages by credential in a node file: trust and access by attributes', async () => {
    const file = join(session.dir, 'carol.yaml');
    writeFileSync(
      file,
      [
        'name: carol',
        'identity: carol',
        'tcp: { listen: ["127.0.0.1:0"] }',
        'secureChannelListeners:',
        '  - address: listener',
        `    trust: { credential: { authority: ${authorityId}, attributes: { role: friend } } }`,
        'workers:',
        '  - address: echoer',
        '    builtin: echoer',
        '    access: { attributes: { role: friend } }',
        '',
      ].join('\n'),
    );
    const carol = start(['node', 'start', '--config', file]);
    const carolId = (await carol.waitFor(/Node carol runs as (I[0-9a-f]{40})/))[1]!;
    const at = (await carol.waitFor(/Listening on TCP (\S+)/))[1]!;
    await carol.waitFor(new RegExp(`trust: a credential from ${authorityId} giving role=friend`));
    await carol.waitFor(/Control socket/); // started whole
    const ticket = (
      await ok(['authority', 'ticket', 'create', '--identity', 'admin', '--attribute', 'role=friend'])
    ).trim();
    await ok(['enroll', ticket, '--identity', 'alice']);
    const echoer = `/tcp/${at}/service/listener/secure/${carolId}/service/echoer`;
    expect(await ok(['message', 'send', echoer, 'friendly', '--identity', 'alice'])).toBe('friendly\n');

    // Eve presents no credential: Carol's listener refuses the handshake.
    const eve = await runCli(['message', 'send', echoer, 'x', '--identity', 'eve'], env);
    expect(eve.code).toBe(1);
    expect(eve.stderr).toMatch(/SecureChannelError/);
  });

  it('shows the hub its WebSocket listener and the authority its members in status --json', async () => {
    const hubStatus = JSON.parse(await ok(['status', '--node', 'hub', '--json']));
    expect(hubStatus.wsListeners).toEqual([hubWs]);
    expect(hubStatus.forwarders.hosted).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'bob', owner: forwardingAddress.split('@')[0] }),
      ]),
    );
    const authorityStatus = JSON.parse(await ok(['status', '--node', 'authority', '--json']));
    // Bob and Alice enrolled; Eve's second use of a one-time ticket was refused.
    expect(authorityStatus.authority).toMatchObject({ identifier: authorityId, enrollments: 2 });
    expect(authorityStatus.authority.refused.TICKET_USED).toBe(1);
  });
});
