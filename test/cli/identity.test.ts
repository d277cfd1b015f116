import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, scratchDir } from './cli-process';

const scratch = scratchDir();
afterAll(() => scratch.cleanup());
const env = { SEALROUTE_CONFIG_DIR: scratch.dir, SEALROUTE_PASSPHRASE: '' };

describe('sealroute identity', () => {
  it('creates an identity once, shows it, lists it and makes it the default', async () => {
    const created = await runCli(['identity', 'create', 'alice'], env);
    expect(created.code).toBe(0);
    const identifier = created.stdout.trim();
    expect(identifier).toMatch(/^I[0-9a-f]{40}$/);
    expect(created.stderr).toMatch(/Created identity alice/);
    expect(statSync(join(scratch.dir, 'vaults', 'alice.vault')).mode & 0o777).toBe(0o600);
    expect(statSync(join(scratch.dir, 'vaults')).mode & 0o777).toBe(0o700);

    const again = await runCli(['identity', 'create', 'alice'], env);
    expect(again.stdout.trim()).toBe(identifier);
    expect(again.stderr).toMatch(/already exists/);

    const shown = JSON.parse((await runCli(['identity', 'show', 'alice', '--json'], env)).stdout);
    expect(shown).toMatchObject({ name: 'alice', identifier });
    expect(shown.publicKey).toMatch(/^[0-9a-f]{64}$/);

    expect((await runCli(['identity', 'default', 'alice'], env)).code).toBe(0);
    expect((await runCli(['identity', 'default'], env)).stdout).toBe('alice\n');
    const listed = JSON.parse((await runCli(['identity', 'list', '--json'], env)).stdout);
    expect(listed).toEqual([{ name: 'alice', identifier, default: true }]);
    expect((await runCli(['identity', 'show'], env)).stdout).toContain(identifier); // the default
  });

  it('unlocks a passphrase vault from the environment or a file, and refuses a wrong one', async () => {
    const created = await runCli(['identity', 'create', 'carol'], {
      ...env,
      SEALROUTE_PASSPHRASE: 'correct horse',
    });
    expect(created.code).toBe(0);
    const file = join(scratch.dir, 'carol.passphrase');
    writeFileSync(file, 'correct horse\n', { mode: 0o600 });
    const viaFile = await runCli(['identity', 'show', 'carol', '--passphrase-file', file, '--json'], env);
    expect(JSON.parse(viaFile.stdout).identifier).toBe(created.stdout.trim());

    const wrong = await runCli(['identity', 'show', 'carol'], { ...env, SEALROUTE_PASSPHRASE: 'wrong' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^error: VaultError WRONG_PASSPHRASE/m);
    // No passphrase and no terminal to ask on: say what to do.
    const none = await runCli(['identity', 'show', 'carol'], env);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(
      /protected by a passphrase: set SEALROUTE_PASSPHRASE or give --passphrase-file/,
    );
  });

  it('refuses a name that could leave the vault directory, as a usage error', async () => {
    const result = await runCli(['identity', 'create', '../evil'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/identity name "..\/evil" must be/);
  });
});
