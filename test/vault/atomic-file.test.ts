import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import fsPromises from 'node:fs/promises';
import { join } from 'node:path';
import { removeStaleTempFiles, writeFileAtomic } from '../../src/vault/atomic-file';
import { ARGON2ID_MIN } from '../../src/vault/file-keys';
import { FileVault } from '../../src/vault/file-vault';
import { expectRejects, tempDir } from './helpers';

/** Failure injection: each step of the atomic write failing must leave the old file whole. */
describe('writeFileAtomic', () => {
  let dir: string;
  let cleanup: () => void;
  let path: string;

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    path = join(dir, 'file');
    writeFileSync(path, 'old content', { mode: 0o600 });
  });

  afterEach(() => {
    jest.restoreAllMocks();
    cleanup();
  });

  it('replaces the content, mode 0600, leaving no temp file', async () => {
    await writeFileAtomic(path, new TextEncoder().encode('new content'));
    expect(readFileSync(path, 'utf8')).toBe('new content');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['file']);
  });

  it('leaves the old content and no temp file when the rename fails', async () => {
    jest.spyOn(fsPromises, 'rename').mockRejectedValueOnce(Object.assign(new Error('EIO'), { code: 'EIO' }));
    await expect(writeFileAtomic(path, new TextEncoder().encode('new content'))).rejects.toThrow('EIO');
    expect(readFileSync(path, 'utf8')).toBe('old content');
    expect(readdirSync(dir)).toEqual(['file']);
  });

  it('leaves the old content and no temp file when the temp file cannot be created', async () => {
    jest
      .spyOn(fsPromises, 'open')
      .mockRejectedValueOnce(Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }));
    await expect(writeFileAtomic(path, new TextEncoder().encode('new content'))).rejects.toThrow('ENOSPC');
    expect(readFileSync(path, 'utf8')).toBe('old content');
    expect(readdirSync(dir)).toEqual(['file']);
  });

  it('removes only its own kind of leftover temp files', async () => {
    writeFileSync(join(dir, 'file.tmp-99-0011223344556677'), 'half written');
    writeFileSync(join(dir, 'file.tmp-99-xyz'), 'someone else');
    writeFileSync(join(dir, 'other.tmp-99-0011223344556677'), 'another file');
    await removeStaleTempFiles(path);
    expect(readdirSync(dir).sort()).toEqual(['file', 'file.tmp-99-xyz', 'other.tmp-99-0011223344556677']);
  });
});

describe('FileVault write failures', () => {
  let dir: string;
  let cleanup: () => void;

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
  });

  afterEach(() => {
    jest.restoreAllMocks();
    cleanup();
  });

  it('changes nothing, in memory or on disk, when a write fails (IO), and recovers on the next', async () => {
    const path = join(dir, 'vault');
    const vault = await FileVault.open(path, { passphrase: 'pw' }, { kdf: ARGON2ID_MIN });
    const kept = await vault.generateKey('ed25519');
    const before = readFileSync(path);

    const rename = jest.spyOn(fsPromises, 'rename');
    rename.mockRejectedValueOnce(Object.assign(new Error('EIO'), { code: 'EIO' }));
    const error = await expectRejects(vault.generateKey('x25519'), 'IO');
    expect(error.cause).toMatchObject({ code: 'EIO' });
    expect((await vault.listKeys()).map((k) => k.id)).toEqual([kept]);
    expect(readFileSync(path).equals(before)).toBe(true);

    rename.mockRejectedValueOnce(Object.assign(new Error('EIO'), { code: 'EIO' }));
    await expectRejects(vault.deleteKey(kept), 'IO');
    expect((await vault.listKeys()).map((k) => k.id)).toEqual([kept]);
    expect(readFileSync(path).equals(before)).toBe(true);

    const added = await vault.generateKey('x25519');
    await vault.close();
    const reopened = await FileVault.open(path, { passphrase: 'pw' }, { kdf: ARGON2ID_MIN });
    expect((await reopened.listKeys()).map((k) => k.id)).toEqual([kept, added]);
    await reopened.close();
  });
});
