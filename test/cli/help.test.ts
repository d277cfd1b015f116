import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childEnv } from '../../tools/transpiled-tree';
import { scaled } from '../helpers/slowdown';
import { cliEntry, runCli, scratchDir } from './cli-process';

const scratch = scratchDir();
afterAll(() => scratch.cleanup());
const env = { SEALROUTE_CONFIG_DIR: scratch.dir };

describe('sealroute --help', () => {
  beforeAll(() => void cliEntry()); // transpile before anything is timed

  it('prints the commands in under a second (scaled by the measured slowdown)', async () => {
    await runCli(['--help'], env); // warm the file cache, as a second run of a user's shell would be
    const result = await runCli(['--help'], env);
    expect(result.code).toBe(0);
    for (const command of [
      'identity',
      'hub',
      'node',
      'relay',
      'secure-channel',
      'message',
      'status',
      'authority',
      'enroll',
      'completion',
    ]) {
      expect(result.stdout).toContain(`sealroute ${command}`);
    }
    process.stderr.write(`sealroute --help took ${result.ms} ms (budget ${scaled(1000)} ms)\n`);
    expect(result.ms).toBeLessThan(scaled(1000));
  });

  it('loads neither libsodium nor the node runtime to print help', () => {
    const probe = join(scratch.dir, 'probe.js');
    // Prints every module loaded, at exit.
    writeFileSync(
      probe,
      "process.on('exit', () => process.stderr.write(Object.keys(require.cache).join('\\n')));\n",
    );
    const result = spawnSync(process.execPath, ['-r', probe, cliEntry(), '--help'], {
      env: childEnv(env),
      encoding: 'utf8',
    });
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('yargs');
    expect(result.stderr).not.toMatch(/libsodium|tsyringe|pino|node-runtime|prom-client|zod/);
  });

  it('exits 2 with one line for a usage error, and 1 with the cause for a failure', async () => {
    const usage = await runCli(['no-such-command'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim().split('\n')).toHaveLength(1);
    expect(usage.stderr).toMatch(/^error: Unknown argument: no-such-command/);
    expect(usage.stderr).not.toContain('\u001b['); // no colours when standard error is not a terminal

    const failure = await runCli(['status', '--node', 'nobody-runs-this'], env);
    expect(failure.code).toBe(1);
    expect(failure.stderr.trim().split('\n')).toHaveLength(1);
    expect(failure.stderr).toMatch(/no node is running at .*nobody-runs-this\.sock \(cause: Error ENOENT/);

    const badRoute = await runCli(['message', 'send', 'tcp/x', 'hi'], env);
    expect(badRoute.code).toBe(2);
    expect(badRoute.stderr).toMatch(/a route starts with \//);
  });

  it('prints a shell completion script', async () => {
    const result = await runCli(['completion'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/sealroute/);
    expect(result.stdout).toMatch(/complete/);
  });
});
