import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scaled } from '../helpers/slowdown';
import { CliProcess, cliSession, runCli } from './cli-process';

/** The value of one sample in Prometheus text: `name{labels}` (labels as written by prom-client). */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels === '' ? ' ' : `{${labels}} `}`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const session = cliSession();
const { env, start } = session;

/** Scrapes until `ok` holds of the text (the node counts asynchronously) or the deadline passes. */
async function scrapeUntil(url: string, ok: (text: string) => boolean, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + scaled(timeoutMs);
  for (;;) {
    const text = await (await fetch(url)).text();
    if (ok(text) || Date.now() > deadline) return text;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const NOBODY_TRUSTED = 'I' + '0'.repeat(40);

describe('the story from a shell: hub, Bob from a config file, Alice with message send', () => {
  let hub: string;
  let bob: CliProcess;
  let metricsUrl: string;
  let forwardingAddress: string;
  const socketDir = join(session.dir, 'sockets');
  const socket = join(socketDir, 'bob.sock');
  const configFile = join(session.dir, 'bob.yaml');
  const config = (trust: string): string =>
    [
      'name: bob',
      'identity: bob',
      'secureChannelListeners:',
      '  - address: listener',
      `    trust: ${trust}`,
      'workers:',
      '  - address: echoer',
      '    builtin: echoer',
      '  - address: private',
      '    module: ./private-worker.js',
      '    access:',
      `      identifiers: [${NOBODY_TRUSTED}]`,
      'control:',
      `  socket: ${socket}`,
      'metrics:',
      '  listen: 127.0.0.1:0',
      '',
    ].join('\n');

  beforeAll(async () => {
    // A directory others may traverse, so that the socket's own mode is what keeps them out.
    mkdirSync(socketDir, { recursive: true });
    chmodSync(socketDir, 0o711);
    chmodSync(session.dir, 0o711);
    writeFileSync(
      join(session.dir, 'private-worker.js'),
      "module.exports = class Private { async handleMessage(ctx, m) { await ctx.send(m.returnRoute, 'secret'); } };\n",
    );
    writeFileSync(configFile, config('any-identity'));
    const hubProcess = start(['hub', 'start', '--tcp', '127.0.0.1:0']);
    hub = (await hubProcess.waitFor(/Hub listening on (\S+)/))[1]!;
    bob = start(['node', 'start', '--config', configFile]);
    metricsUrl = (await bob.waitFor(/Metrics on (http\S+)/))[1]!;
    const relay = await runCli(['relay', 'create', '--socket', socket, '--hub', hub, '--name', 'bob'], env);
    expect(relay.stderr).not.toMatch(/error/); // a progress line when registering takes over a second
    expect(relay.code).toBe(0);
    forwardingAddress = relay.stdout.trim();
    expect(forwardingAddress).toMatch(/^I[0-9a-f]{40}@fwd\.n\.bob$/);
  });

  it('sends through a secure channel and gets the echo; the metrics count the channel opened, then closed', async () => {
    const before = await (await fetch(metricsUrl)).text();
    const sent = await runCli(
      ['message', 'send', `/tcp/${hub}/relay/${forwardingAddress}/service/echoer`, 'hello bob'],
      env,
    );
    expect(sent.stderr).not.toMatch(/error/);
    expect(sent.code).toBe(0);
    expect(sent.stdout).toBe('hello bob\n');
    // Alice's one-shot node closed its channel as it stopped: Bob's end closes with reason `remote`.
    const after = await scrapeUntil(
      metricsUrl,
      (t) => sample(t, 'sealroute_channels_closed_total', 'reason="remote"') > 0,
    );
    expect(sample(after, 'sealroute_channels_opened_total', 'role="responder"')).toBe(
      sample(before, 'sealroute_channels_opened_total', 'role="responder"') + 1,
    );
    expect(sample(after, 'sealroute_channels_closed_total', 'reason="remote"')).toBe(1);
    expect(sample(after, 'sealroute_channels_open')).toBe(0);
    expect(sample(after, 'sealroute_messages_routed_total')).toBeGreaterThan(
      sample(before, 'sealroute_messages_routed_total'),
    );
    expect(sample(after, 'sealroute_relays_registered')).toBe(1);
    expect(sample(after, 'sealroute_connections_open', 'transport="tcp"')).toBe(1);
    // The handshake and the echo crossed Bob's one TCP connection (to the hub) both ways.
    for (const direction of ['in', 'out']) {
      const labels = `transport="tcp",direction="${direction}"`;
      expect(sample(after, 'sealroute_transport_bytes_total', labels)).toBeGreaterThan(
        sample(before, 'sealroute_transport_bytes_total', labels) + 'hello bob'.length,
      );
    }
  });

  it('counts a dead letter and a denied access as the traffic makes them, and the sender learns why', async () => {
    const before = await (await fetch(metricsUrl)).text();
    const lost = await runCli(
      ['message', 'send', `/tcp/${hub}/relay/${forwardingAddress}/service/nosuch`, 'x'],
      env,
    );
    expect(lost.code).toBe(1);
    expect(lost.stderr.trim().split('\n').pop()).toMatch(/^error: NodeError NO_ROUTE/);
    const afterLost = await scrapeUntil(
      metricsUrl,
      (t) =>
        sample(t, 'sealroute_dead_letters_total', 'reason="no-route"') >
        sample(before, 'sealroute_dead_letters_total', 'reason="no-route"'),
    );
    expect(sample(afterLost, 'sealroute_dead_letters_total', 'reason="no-route"')).toBe(
      sample(before, 'sealroute_dead_letters_total', 'reason="no-route"') + 1,
    );
    expect(sample(afterLost, 'sealroute_access_denied_total', 'by="access-rule"')).toBe(
      sample(before, 'sealroute_access_denied_total', 'by="access-rule"'),
    );

    const denied = await runCli(
      ['message', 'send', `/tcp/${hub}/relay/${forwardingAddress}/service/private`, 'x'],
      env,
    );
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/NodeError ACCESS_DENIED/);
    const afterDenied = await scrapeUntil(
      metricsUrl,
      (t) =>
        sample(t, 'sealroute_access_denied_total', 'by="access-rule"') >
        sample(before, 'sealroute_access_denied_total', 'by="access-rule"'),
    );
    expect(sample(afterDenied, 'sealroute_access_denied_total', 'by="access-rule"')).toBe(
      sample(before, 'sealroute_access_denied_total', 'by="access-rule"') + 1,
    );
    expect(sample(afterDenied, 'sealroute_dead_letters_total', 'reason="access-denied"')).toBe(
      sample(before, 'sealroute_dead_letters_total', 'reason="access-denied"') + 1,
    );
  });

  it('answers status --json with connections, forwarders, channels, listeners and dead letters', async () => {
    const channel = await runCli(
      [
        'secure-channel',
        'create',
        '--socket',
        socket,
        '--to',
        `/tcp/${hub}/relay/${forwardingAddress}`,
        '--json',
      ],
      env,
    );
    expect(channel.code).toBe(0);
    const opened = JSON.parse(channel.stdout) as { address: string; remoteIdentifier: string };
    expect(opened.remoteIdentifier).toBe(forwardingAddress.split('@')[0]);

    const result = await runCli(['status', '--socket', socket, '--json'], env);
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout);
    expect(status).toMatchObject({
      name: 'bob',
      identifier: forwardingAddress.split('@')[0],
      ready: true,
      listeners: [{ address: 'listener', trust: '"any-identity"' }],
      forwarders: { relays: [{ hub, forwardingAddress, to: 'listener', registered: true }] },
    });
    expect(status.connections).toEqual(
      expect.arrayContaining([expect.objectContaining({ remote: hub, outgoing: true })]),
    );
    // The channel just made is there from both ends: Bob opened it to his own listener through the hub.
    expect(status.channels).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ address: opened.address, role: 'initiator' }),
        expect.objectContaining({ role: 'responder', remoteIdentifier: status.identifier }),
      ]),
    );
    expect(status.deadLetters.byReason['no-route']).toBeGreaterThanOrEqual(1);
    expect(status.deadLetters.byReason['access-denied']).toBeGreaterThanOrEqual(1);
    expect(status.metrics.channels.handshakeSeconds.count).toBe(1);

    const hubStatus = JSON.parse((await runCli(['status', '--node', 'hub', '--json'], env)).stdout);
    expect(hubStatus.forwarders.hosted).toEqual([
      expect.objectContaining({ name: 'bob', owner: status.identifier }),
    ]);

    const table = await runCli(['status', '--socket', socket], env);
    expect(table.stdout).toMatch(/Secure channels \(2\)/);
    expect(table.stdout).toMatch(/no-route\s+\d/);
  });

  it('serves /healthz and /readyz, and refuses what is not a GET', async () => {
    const base = metricsUrl.replace(/\/metrics$/, '');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/other`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST', body: 'x'.repeat(100) })).status).toBe(405);
  });

  it('makes its control socket 0600 and refuses another user', () => {
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    const client =
      `require('net').createConnection(${JSON.stringify(socket)})` +
      ".on('connect', () => { console.log('connected'); process.exit(0); })" +
      ".on('error', (e) => { console.log(e.code); process.exit(3); })";
    if (process.getuid?.() !== 0 || spawnSync('runuser', ['--help']).error !== undefined) {
      const why = 'needs root and runuser (util-linux) to run a client as nobody';
      if (process.env.CI === 'true') throw new Error(why);
      process.stderr.write(`\n!!! SKIPPED the other-user check of the control socket: ${why}\n\n`);
      return;
    }
    const other = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', client], {
      encoding: 'utf8',
      timeout: scaled(20_000),
    });
    expect(other.stdout.trim()).toBe('EACCES');
    expect(other.status).toBe(3);
    // The owner gets in (the same client, as root).
    const owner = spawnSync(process.execPath, ['-e', client], { encoding: 'utf8', timeout: scaled(20_000) });
    expect(owner.stdout.trim()).toBe('connected');
  });

  it('reloads the listener trust on SIGHUP, and keeps the configuration when the new file is bad', async () => {
    const before = await (await fetch(metricsUrl)).text();
    writeFileSync(configFile, config(`[${NOBODY_TRUSTED}]`));
    bob.child.kill('SIGHUP');
    await bob.waitFor(/listener listener: trust is now/, 'stderr');
    const refused = await runCli(
      ['message', 'send', `/tcp/${hub}/relay/${forwardingAddress}/service/echoer`, 'hi'],
      env,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/SecureChannelError REFUSED/);
    const after = await scrapeUntil(
      metricsUrl,
      (t) => sample(t, 'sealroute_channels_failed_total', 'code="UNTRUSTED"') > 0,
    );
    expect(sample(after, 'sealroute_channels_failed_total', 'code="UNTRUSTED"')).toBe(
      sample(before, 'sealroute_channels_failed_total', 'code="UNTRUSTED"') + 1,
    );

    writeFileSync(
      configFile,
      config('any-identity').replace('builtin: echoer', 'builtin: echoer\n    bogus: 1'),
    );
    bob.child.kill('SIGHUP');
    await bob.waitFor(
      /reload failed, configuration unchanged: .*bob\.yaml:9:5: workers\[0\]\.bogus: unknown field/,
      'stderr',
    );
    expect(bob.child.exitCode).toBeNull();
  });

  it('runs the README story with flags: a node with an echoer and a relay, then message send', async () => {
    const carol = start([
      'node',
      'start',
      '--identity',
      'carol',
      '--echoer',
      '--relay',
      hub,
      '--relay-name',
      'carol',
    ]);
    const address = (await carol.waitFor(/Forwarding address: (\S+)/))[1]!;
    const sent = await runCli(
      ['message', 'send', `/tcp/${hub}/relay/${address}/service/echoer`, 'hi carol'],
      env,
    );
    expect(sent.stdout).toBe('hi carol\n');
    expect(await carol.stop()).toBe(0);
    expect(await bob.stop()).toBe(0);
  });
});
