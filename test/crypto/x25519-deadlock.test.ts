import { spawn } from 'node:child_process';
import { collectRun, REPO_ROOT } from '../helpers/run-example';
import { scaled } from '../helpers/slowdown';

/**
 * Node 20's JWK export of a key object allocates while it holds the key's lock; a garbage collection at
 * that moment can finalise the job that generated the key, and its destructor waits for the same lock: the
 * process hangs for good, its main thread in a futex (seen in a benchmark run, twice at the same place,
 * inside `nodeX25519.generateKeyPair`). Forcing every collection to be a full one, in a young generation of
 * 1 MB, makes it likely: the former `generateKeyPair` (generate, then `publicKey.export({ format: 'jwk' })`)
 * hung in each of three runs of this loop; the public key now comes encoded by the generation itself.
 */
describe('nodeX25519.generateKeyPair under constant full garbage collections', () => {
  it('makes 100,000 key pairs without hanging', async () => {
    const script = [
      "const { nodeX25519 } = require('./src/crypto/x25519');",
      'for (let i = 0; i < 100000; i++) nodeX25519.generateKeyPair();',
      "console.log('done');",
    ].join('\n');
    const child = spawn(
      process.execPath,
      [
        '--gc-global',
        '--min-semi-space-size=1',
        '--max-semi-space-size=1',
        '-r',
        'ts-node/register/transpile-only',
        '-e',
        script,
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // About 5 s on a 2-core machine; a hang is killed at the timeout and fails below.
    const result = await collectRun(child, scaled(60_000), () => child.kill('SIGKILL'));
    expect({ timedOut: result.timedOut, code: result.code, stderr: result.stderr }).toEqual({
      timedOut: false,
      code: 0,
      stderr: '',
    });
    expect(result.lines).toEqual(['done']);
  }, 120_000);
});
