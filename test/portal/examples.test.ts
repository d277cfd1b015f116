import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpawnedExample } from '../helpers/spawned-example';
import { Cleanup } from '../helpers/tcp-fixtures';
import { connectTo, readAll, startEchoServer } from './portal-fixtures';

// examples/hub.ts, examples/portal-outlet.ts and examples/portal-inlet.ts as three processes, driven the way
// a user would: arguments, the forwarding address typed into the inlet, a client on the inlet's port.

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const START_MS = 60_000;
const STEP_MS = 10_000;

function start(file: string, home: string, args: string[]): SpawnedExample {
  const program = SpawnedExample.start(file, { args, env: { SEALROUTE_LOG: 'warn', SEALROUTE_HOME: home } });
  cleanup.add(() => program.stop('SIGKILL', 2_000));
  return program;
}

describe('examples/portal-outlet.ts and examples/portal-inlet.ts', () => {
  it('carry a TCP conversation from the inlet port to the service behind the outlet', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sealroute-home-'));
    cleanup.add(() => rmSync(home, { recursive: true, force: true }));
    const service = await startEchoServer(cleanup);
    const hub = start('examples/hub.ts', home, ['127.0.0.1:0']);
    const hubAddress = (await hub.waitForLine(/^Hub listening on (\S+)$/, START_MS))[1]!;
    const outlet = start('examples/portal-outlet.ts', home, [hubAddress, service.address]);
    const inlet = start('examples/portal-inlet.ts', home, [hubAddress, '127.0.0.1:0']);
    await outlet.waitForLine(/^\[✓\] Outlet 'outlet' forwards sessions to 127\.0\.0\.1:\d+$/, START_MS);
    const forwardingAddress = (
      await outlet.waitForLine(/^(I[0-9a-f]{40}@fwd\.n\.bob-portal)$/, START_MS)
    )[1]!;
    const alice = (await inlet.waitForLine(/^Alice's identifier is: (I[0-9a-f]{40})$/, START_MS))[1]!;
    inlet.write(forwardingAddress);
    const local = (
      await inlet.waitForLine(/Inlet listening on (\S+): point your client there\.$/, STEP_MS)
    )[1]!;

    const client = await connectTo(cleanup, local, true);
    const reply = readAll(client);
    client.end('hello through the portal');
    expect((await reply).bytes.toString()).toBe('hello through the portal');
    await outlet.waitForLine(new RegExp(`^\\[✓\\] Session from ${alice}$`), STEP_MS);
    await outlet.waitForLine(/^\[✓\] Session closed: 24 bytes in, 24 out$/, STEP_MS);
    expect(outlet.stderr).toBe('');
    expect(inlet.stderr).toBe('');
  });
});
