import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Identity } from '../../src/identity';
import { ARGON2ID_MIN } from '../../src/vault/file-keys';
import { FileVault } from '../../src/vault/file-vault';
import { expectRejects, tempDir } from './helpers';

// FileVault.openInHome: where the examples keep their identities, so that a restarted Bob is the same Bob.

let scratch: { dir: string; cleanup: () => void };
let home: string;
const saved = { home: process.env.SEALROUTE_HOME, passphrase: process.env.SEALROUTE_PASSPHRASE };
beforeEach(() => {
  scratch = tempDir();
  home = join(scratch.dir, 'home');
  delete process.env.SEALROUTE_PASSPHRASE;
});
afterEach(() => {
  scratch.cleanup();
  for (const [key, value] of [
    ['SEALROUTE_HOME', saved.home],
    ['SEALROUTE_PASSPHRASE', saved.passphrase],
  ] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

const mode = (path: string) => statSync(path).mode & 0o777;

describe('FileVault.openInHome', () => {
  it('makes a private home, a 0600 key file and a vault that gives the same identity after a restart', async () => {
    const first = await FileVault.openInHome('bob', { home });
    const bob = await Identity.getOrCreate(first);
    await first.close();
    expect(mode(home)).toBe(0o700);
    expect(mode(join(home, 'bob.key'))).toBe(0o600);
    expect(readFileSync(join(home, 'bob.key'))).toHaveLength(32);
    expect(mode(join(home, 'bob.vault'))).toBe(0o600);

    const again = await FileVault.openInHome('bob', { home });
    expect((await Identity.getOrCreate(again)).identifier).toBe(bob.identifier);
    await again.close();
    // Another name is another identity.
    const alice = await FileVault.openInHome('alice', { home });
    expect((await Identity.getOrCreate(alice)).identifier).not.toBe(bob.identifier);
    await alice.close();
  });

  it('takes the home from SEALROUTE_HOME', async () => {
    process.env.SEALROUTE_HOME = home;
    await (await FileVault.openInHome('bob')).close();
    expect(existsSync(join(home, 'bob.vault'))).toBe(true);
  });

  it('uses SEALROUTE_PASSPHRASE instead of a key file when it is set', async () => {
    process.env.SEALROUTE_PASSPHRASE = 'correct horse';
    const vault = await FileVault.openInHome('bob', { home, kdf: ARGON2ID_MIN });
    const id = (await Identity.getOrCreate(vault)).identifier;
    await vault.close();
    expect(existsSync(join(home, 'bob.key'))).toBe(false);
    process.env.SEALROUTE_PASSPHRASE = 'wrong horse';
    await expectRejects(FileVault.openInHome('bob', { home }), 'WRONG_PASSPHRASE');
    process.env.SEALROUTE_PASSPHRASE = 'correct horse';
    const again = await FileVault.openInHome('bob', { home });
    expect((await Identity.getOrCreate(again)).identifier).toBe(id);
    await again.close();
  });

  it('refuses a key file others may read, or of the wrong size, and a name that could leave the home', async () => {
    await (await FileVault.openInHome('bob', { home })).close();
    const key = join(home, 'bob.key');
    chmodSync(key, 0o644);
    await expectRejects(FileVault.openInHome('bob', { home }), 'INSECURE_PERMISSIONS');
    chmodSync(key, 0o600);
    writeFileSync(key, 'short');
    await expectRejects(FileVault.openInHome('bob', { home }), 'CORRUPT_FILE');
    for (const name of ['../bob', 'a/b', '', '.', 'x'.repeat(65)]) {
      await expectRejects(FileVault.openInHome(name, { home }), 'INVALID_ARGUMENT');
    }
  });

  it('keeps a second opener of the same vault out (LOCKED)', async () => {
    const first = await FileVault.openInHome('bob', { home });
    await expectRejects(FileVault.openInHome('bob', { home }), 'LOCKED');
    await first.close();
  });
});
