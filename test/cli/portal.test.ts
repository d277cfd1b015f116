import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cleanup } from '../helpers/tcp-fixtures';
import { PG_BIN, programsAvailable, run, startPostgres } from '../portal/external-servers';
import { cliSession, runCli } from './cli-process';

// A Postgres outlet and inlet declared in config files, psql through them: the portal story from a shell.

const session = cliSession({ SEALROUTE_LOG: 'warn', SEALROUTE_LOG_FORMAT: 'pretty' });
const { env, start } = session;
const cleanup = new Cleanup(); // Postgres, after the session has stopped the outlet and inlet
afterAll(() => cleanup.run());

const hasPostgres = programsAvailable(
  'PostgreSQL through sealroute portals',
  [join(PG_BIN, 'initdb'), join(PG_BIN, 'postgres'), 'psql'],
  'postgresql-15 postgresql-client-15',
);

(hasPostgres ? describe : describe.skip)('sealroute tcp-outlet and tcp-inlet', () => {
  it('carries psql to Postgres through an outlet and an inlet declared in config files, for the allowed identity only', async () => {
    const pg = await startPostgres(cleanup);
    const alice = (await runCli(['identity', 'create', 'alice'], env)).stdout.trim();
    const hub = (await start(['hub', 'start', '--tcp', '127.0.0.1:0']).waitFor(/Hub listening on (\S+)/))[1]!;

    const bobFile = join(session.dir, 'bob.yaml');
    writeFileSync(
      bobFile,
      [
        'identity: bob',
        'secureChannelListeners: [{ address: listener }]',
        `relays: [{ hub: "${hub}", name: bob }]`,
        'tcpOutlets:',
        '  - address: postgres',
        `    target: 127.0.0.1:${pg.port}`,
        `    access: [${alice}]`,
        '',
      ].join('\n'),
    );
    const bob = start(['node', 'start', '--config', bobFile]);
    const forwardingAddress = (await bob.waitFor(/Forwarding address: (\S+)/))[1]!;

    const aliceFile = join(session.dir, 'alice.yaml');
    writeFileSync(
      aliceFile,
      [
        'identity: alice',
        'tcpInlets:',
        `  - listen: 127.0.0.1:0`,
        `    to: /tcp/${hub}/relay/${forwardingAddress}/service/postgres`,
        'metrics: { listen: "127.0.0.1:0" }',
        '',
      ].join('\n'),
    );
    const aliceNode = start(['node', 'start', '--config', aliceFile]);
    const inlet = (await aliceNode.waitFor(/TCP inlet on (\S+)/))[1]!;
    const metricsUrl = (await aliceNode.waitFor(/Metrics on (http\S+)/))[1]!;
    const port = inlet.slice(inlet.lastIndexOf(':') + 1);
    const psql = async (sql: string): Promise<string> =>
      (
        await run(
          'psql',
          [
            '-h',
            '127.0.0.1',
            '-p',
            port,
            '-U',
            'postgres',
            '-d',
            'postgres',
            '-X',
            '-A',
            '-t',
            '-v',
            'ON_ERROR_STOP=1',
            '-c',
            sql,
          ],
          {
            env: { ...process.env, PGCONNECT_TIMEOUT: '20' },
          },
        )
      ).stdout.trim();
    try {
      await psql('CREATE TABLE ledger (id int, note text)');
    } catch (error) {
      // What the nodes said, to tell a portal failure from a Postgres one.
      throw new Error(`${String(error)}\nbob: ${bob.stderr}\nalice: ${aliceNode.stderr}`);
    }
    await psql("INSERT INTO ledger VALUES (1, 'through the portal')");
    expect(await psql('SELECT note FROM ledger')).toBe('through the portal');

    const status = JSON.parse((await runCli(['status', '--node', 'alice', '--json'], env)).stdout);
    expect(status.portals).toEqual([
      expect.objectContaining({
        side: 'inlet',
        address: inlet,
        to: expect.stringContaining('/service/postgres'),
      }),
    ]);
    expect(status.portals[0].sessionsOpened).toBe(3);
    expect(status.portals[0].bytesSent).toBeGreaterThan(0);
    const text = await (await fetch(metricsUrl)).text();
    expect(text).toMatch(
      new RegExp(`sealroute_portal_sessions_opened_total\\{portal="inlet ${inlet}",side="inlet"\\} 3`),
    );
    const bobStatus = JSON.parse((await runCli(['status', '--node', 'bob', '--json'], env)).stdout);
    expect(bobStatus.portals).toEqual([
      expect.objectContaining({ side: 'outlet', address: 'postgres', sessionsOpened: 3 }),
    ]);

    // Carol, not on the outlet's list, gets an inlet (her channel to Bob opens) but no session.
    await runCli(['identity', 'create', 'carol'], env);
    const carolNode = start(['node', 'start', '--identity', 'carol']);
    await carolNode.waitFor(/Control socket/);
    const carolInlet = await runCli(
      [
        'tcp-inlet',
        'create',
        '--node',
        'carol',
        '--to',
        `/tcp/${hub}/relay/${forwardingAddress}/service/postgres`,
      ],
      env,
    );
    expect(carolInlet.code).toBe(0);
    const carolPort = carolInlet.stdout.trim().split(':').pop()!;
    const refused = await run(
      'psql',
      ['-h', '127.0.0.1', '-p', carolPort, '-U', 'postgres', '-X', '-c', 'SELECT 1'],
      {
        env: { ...process.env, PGCONNECT_TIMEOUT: '20' },
      },
    ).then(
      () => 'connected',
      (error: { stderr?: string }) => error.stderr ?? 'failed',
    );
    expect(refused).not.toBe('connected');
    const bobAfter = JSON.parse((await runCli(['status', '--node', 'bob', '--json'], env)).stdout);
    expect(bobAfter.portals[0].sessionsOpened).toBe(3);
    expect(bobAfter.deadLetters.byReason['access-denied']).toBeGreaterThanOrEqual(1);
  });
});
