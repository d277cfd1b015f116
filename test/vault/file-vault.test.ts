import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sodiumModule from 'libsodium-wrappers-sumo';
import { HEADER } from '../../src/vault/file-format';
import { ARGON2ID_INTERACTIVE, ARGON2ID_MIN, type FileVaultSecret } from '../../src/vault/file-keys';
import { FileVault } from '../../src/vault/file-vault';
import { sodiumReady } from '../../src/crypto/sodium';
import { expectRejects, flipped, tempDir, toHex } from './helpers';
import { describeVaultCompliance, type VaultHarness } from './vault-compliance';

const PASSPHRASE = 'correct horse battery staple';
const options = { kdf: ARGON2ID_MIN };
const posix = process.platform !== 'win32';

let sodium: typeof sodiumModule;
beforeAll(async () => {
  sodium = await sodiumReady();
});

/** A FileVault in a fresh temp directory, for the compliance suite. */
async function fileVaultHarness(secret: FileVaultSecret): Promise<VaultHarness> {
  const { dir, cleanup } = tempDir();
  try {
    const vault = await FileVault.open(join(dir, 'vault'), secret, options);
    return {
      vault,
      teardown: async () => {
        await vault.close();
        cleanup();
      },
    };
  } catch (error) {
    cleanup();
    throw error;
  }
}

describeVaultCompliance('FileVault (passphrase)', () => fileVaultHarness({ passphrase: PASSPHRASE }));
describeVaultCompliance('FileVault (application key)', () =>
  fileVaultHarness({ key: new Uint8Array(32).fill(42) }),
);

/**
 * Decrypts a vault file following only the format documented in file-vault.ts, independently of the
 * implementation: the keys' 32-byte secrets by id.
 */
function decryptIndependently(
  file: Uint8Array,
  passphrase: string,
): Map<string, { type: number; secret: Uint8Array }> {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  expect(Buffer.from(file.subarray(0, 8)).toString('latin1')).toBe('SRVAULT\0');
  expect(file[8]).toBe(1);
  expect(file[9]).toBe(1);
  const header = file.subarray(0, 106);
  expect(toHex(sodium.crypto_generichash(16, header.subarray(0, 90), null))).toBe(
    toHex(header.subarray(90, 106)),
  );
  const master = sodium.crypto_pwhash(
    32,
    passphrase,
    header.slice(18, 34),
    view.getUint32(10),
    view.getUint32(14),
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
  expect(toHex(sodium.crypto_kdf_derive_from_key(32, 2, 'SRVAULT1', master))).toBe(
    toHex(header.subarray(58, 90)),
  );
  const body = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
    null,
    file.subarray(106),
    header,
    header.slice(34, 58),
    sodium.crypto_kdf_derive_from_key(32, 1, 'SRVAULT1', master),
  );
  const keys = new Map<string, { type: number; secret: Uint8Array }>();
  const bodyView = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let offset = 4;
  for (let i = 0; i < bodyView.getUint32(0); i++) {
    const type = body[offset];
    const idLength = body[offset + 1];
    const id = Buffer.from(body.subarray(offset + 2, offset + 2 + idLength)).toString('utf8');
    offset += 2 + idLength;
    keys.set(id, { type, secret: body.slice(offset, offset + 32) });
    offset += 32;
  }
  expect(offset).toBe(body.length);
  return keys;
}

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const result = spawnSync(process.execPath, ['-e', '']);
  expect(result.pid).toBeGreaterThan(0);
  return result.pid as number;
}

describe('FileVault', () => {
  let dir: string;
  let cleanup: () => void;
  let path: string;
  const open = (secret: FileVaultSecret = { passphrase: PASSPHRASE }): Promise<FileVault> =>
    FileVault.open(path, secret, options);

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    path = join(dir, 'vault');
  });

  afterEach(() => {
    cleanup();
  });

  /** A closed vault file holding one X25519 and one Ed25519 key. */
  async function populated(): Promise<Uint8Array> {
    const vault = await open();
    await vault.generateKey('x25519');
    await vault.generateKey('ed25519');
    await vault.close();
    return new Uint8Array(readFileSync(path));
  }

  describe('persistence', () => {
    it('creates the file on first open, with no keys', async () => {
      const vault = await open();
      expect(existsSync(path)).toBe(true);
      expect(await vault.listKeys()).toEqual([]);
      await vault.close();
    });

    it('keeps keys across close and reopen: same ids, public keys, signatures and shared secrets', async () => {
      const first = await open();
      const x = await first.generateKey('x25519');
      const e = await first.generateKey('ed25519');
      const peer = await first.generateKey('x25519', { ephemeral: true });
      const peerPublic = await first.publicKey(peer);
      const before = (await first.listKeys()).filter((k) => k.id !== peer);
      const data = new TextEncoder().encode('hello');
      const signature = await first.sign(e, data);
      const shared = await first.dh(x, peerPublic);
      await first.close();

      const second = await open();
      expect(await second.listKeys()).toEqual(before);
      const edPublic = await second.publicKey(e);
      expect(second.verify(edPublic, data, signature)).toBe(true);
      // Ed25519 is deterministic: the reopened key makes the very same signature.
      expect(toHex(await second.sign(e, data))).toBe(toHex(signature));
      expect(toHex(await second.dh(x, peerPublic))).toBe(toHex(shared));
      await second.close();
    });

    it('keeps ephemeral keys in memory only', async () => {
      const first = await open();
      const ephemeral = await first.generateKey('ed25519', { ephemeral: true });
      const kept = await first.generateKey('ed25519');
      await first.close();
      const second = await open();
      expect((await second.listKeys()).map((k) => k.id)).toEqual([kept]);
      await expectRejects(second.publicKey(ephemeral), 'KEY_NOT_FOUND');
      await second.close();
    });

    it('persists deletions', async () => {
      const first = await open();
      const gone = await first.generateKey('x25519');
      const kept = await first.generateKey('ed25519');
      await first.deleteKey(gone);
      await first.close();
      const second = await open();
      expect((await second.listKeys()).map((k) => k.id)).toEqual([kept]);
      await second.close();
    });

    it('persists every one of many concurrent writes', async () => {
      const first = await open();
      const ids = await Promise.all(Array.from({ length: 12 }, () => first.generateKey('ed25519')));
      await Promise.all(ids.slice(0, 4).map((id) => first.deleteKey(id)));
      await first.close();
      const second = await open();
      expect((await second.listKeys()).map((k) => k.id).sort()).toEqual(ids.slice(4).sort());
      await second.close();
    });

    it('opens an existing file with the KDF cost in its header, not the one in options', async () => {
      await populated();
      const file = readFileSync(path);
      const header = new DataView(file.buffer, file.byteOffset, file.byteLength);
      expect([header.getUint32(HEADER.opsLimit), header.getUint32(HEADER.memLimit)]).toEqual([1, 8192]);
      // ARGON2ID_INTERACTIVE would take ~0.3 s and 64 MiB; the file says MIN, and MIN is what runs.
      const vault = await FileVault.open(path, { passphrase: PASSPHRASE }, { kdf: ARGON2ID_INTERACTIVE });
      expect(await vault.listKeys()).toHaveLength(2);
      await vault.close();
    });

    it('works with a 32-byte application key instead of a passphrase', async () => {
      const key = sodium.randombytes_buf(32);
      const first = await FileVault.open(path, { key });
      const id = await first.generateKey('ed25519');
      await first.close();
      const second = await FileVault.open(path, { key });
      expect((await second.listKeys()).map((k) => k.id)).toEqual([id]);
      await second.close();
      expect(readFileSync(path)[HEADER.kdf]).toBe(2);
    });
  });

  describe('secrets at rest', () => {
    it('never writes a private key in the clear', async () => {
      const vault = await open();
      for (let i = 0; i < 3; i++) {
        await vault.generateKey('x25519');
        await vault.generateKey('ed25519');
      }
      const listed = await vault.listKeys();
      await vault.close();
      const file = new Uint8Array(readFileSync(path));
      const secrets = decryptIndependently(file, PASSPHRASE);
      expect([...secrets.keys()].sort()).toEqual(listed.map((k) => k.id).sort());

      const text = Buffer.from(file).toString('latin1');
      for (const info of listed) {
        const { type, secret } = secrets.get(info.id) as { type: number; secret: Uint8Array };
        // The decrypted secrets really are the private keys: they give the listed public keys.
        const derived =
          type === 1
            ? sodium.crypto_scalarmult_base(secret)
            : sodium.crypto_sign_seed_keypair(secret).publicKey;
        expect(toHex(derived)).toBe(toHex(info.publicKey));
        expect(Buffer.from(file).indexOf(Buffer.from(secret))).toBe(-1);
        expect(Buffer.from(file).indexOf(Buffer.from(secret.subarray(0, 8)))).toBe(-1);
        expect(text).not.toContain(toHex(secret));
        expect(text).not.toContain(Buffer.from(secret).toString('base64'));
        if (type === 2) {
          const expanded = sodium.crypto_sign_seed_keypair(secret).privateKey;
          expect(Buffer.from(file).indexOf(Buffer.from(expanded))).toBe(-1);
        }
      }
    });

    it('uses a fresh nonce on every write', async () => {
      const vault = await open();
      await vault.generateKey('x25519');
      const a = readFileSync(path).subarray(HEADER.nonce, HEADER.nonce + 24);
      await vault.generateKey('x25519');
      const b = readFileSync(path).subarray(HEADER.nonce, HEADER.nonce + 24);
      await vault.close();
      expect(toHex(a)).not.toBe(toHex(b));
    });
  });

  describe('wrong secrets', () => {
    it('reports a wrong passphrase as WRONG_PASSPHRASE, and the right one still opens', async () => {
      await populated();
      await expectRejects(open({ passphrase: 'Correct horse battery staple' }), 'WRONG_PASSPHRASE');
      const vault = await open();
      expect(await vault.listKeys()).toHaveLength(2);
      await vault.close();
    });

    it('reports a wrong application key, or the wrong kind of secret, as WRONG_PASSPHRASE', async () => {
      const key = new Uint8Array(32).fill(1);
      await (await FileVault.open(path, { key })).close();
      await expectRejects(FileVault.open(path, { key: new Uint8Array(32).fill(2) }), 'WRONG_PASSPHRASE');
      await expectRejects(open({ passphrase: PASSPHRASE }), 'WRONG_PASSPHRASE');
      const other = join(dir, 'other');
      await (await FileVault.open(other, { passphrase: PASSPHRASE }, options)).close();
      await expectRejects(FileVault.open(other, { key }), 'WRONG_PASSPHRASE');
    });

    it('refuses an empty passphrase, a key of the wrong length and absurd KDF costs', async () => {
      await expectRejects(open({ passphrase: '' }), 'INVALID_ARGUMENT');
      await expectRejects(open({ key: new Uint8Array(16) }), 'INVALID_ARGUMENT');
      await expectRejects(
        FileVault.open(path, { passphrase: PASSPHRASE }, { kdf: { opsLimit: 0, memLimit: 8192 } }),
        'INVALID_ARGUMENT',
      );
      await expectRejects(
        FileVault.open(path, { passphrase: PASSPHRASE }, { kdf: { opsLimit: 1, memLimit: 2 ** 31 } }),
        'KDF_TOO_COSTLY',
      );
      expect(existsSync(path)).toBe(false);
    });
  });

  describe('damaged files', () => {
    /** Writes `bytes` over the vault file, opens it, and checks the failure leaves file and lock alone. */
    async function expectOpenFails(
      bytes: Uint8Array,
      code: 'CORRUPT_FILE' | 'UNSUPPORTED_VERSION',
    ): Promise<void> {
      writeFileSync(path, bytes);
      await expectRejects(open(), code);
      expect(toHex(readFileSync(path))).toBe(toHex(bytes));
      expect(existsSync(`${path}.lock`)).toBe(false);
    }

    it('reports every single flipped bit, anywhere in the file, as CORRUPT_FILE', async () => {
      const good = await populated();
      for (let i = 0; i < good.length; i++) {
        // Bit 0 of the version byte turns 1 into 0, which is malformed rather than a newer version.
        await expectOpenFails(flipped(good, i, 0x01), 'CORRUPT_FILE');
      }
      for (const i of [0, 20, 40, 60, 95, HEADER.length + 3, good.length - 1]) {
        await expectOpenFails(flipped(good, i, 0x80), 'CORRUPT_FILE');
      }
    });

    it.each([0, 1, 7, 8, 9, 50, HEADER.length - 1, HEADER.length, HEADER.length + 15, HEADER.length + 16])(
      'reports a file truncated to %d bytes as CORRUPT_FILE',
      async (length) => {
        const good = await populated();
        await expectOpenFails(good.slice(0, length), 'CORRUPT_FILE');
      },
    );

    it('reports a file missing its last byte, or with one extra, as CORRUPT_FILE', async () => {
      const good = await populated();
      await expectOpenFails(good.slice(0, good.length - 1), 'CORRUPT_FILE');
      const longer = new Uint8Array(good.length + 1);
      longer.set(good);
      await expectOpenFails(longer, 'CORRUPT_FILE');
    });

    it('reports random garbage as CORRUPT_FILE, even behind a valid magic and version', async () => {
      const good = await populated();
      await expectOpenFails(sodium.randombytes_buf(good.length), 'CORRUPT_FILE');
      await expectOpenFails(sodium.randombytes_buf(4096), 'CORRUPT_FILE');
      const disguised = sodium.randombytes_buf(good.length);
      disguised.set(good.subarray(0, 9));
      await expectOpenFails(disguised, 'CORRUPT_FILE');
      await expectOpenFails(new TextEncoder().encode('{"keys":[]}'), 'CORRUPT_FILE');
    });

    it('reports a newer version as UNSUPPORTED_VERSION', async () => {
      const good = await populated();
      const newer = good.slice();
      newer[HEADER.version] = 2;
      await expectOpenFails(newer, 'UNSUPPORTED_VERSION');
    });

    it('splices of two valid files do not open', async () => {
      const a = await populated();
      const other = join(dir, 'other');
      const vault = await FileVault.open(other, { passphrase: PASSPHRASE }, options);
      await vault.generateKey('ed25519');
      await vault.generateKey('ed25519');
      await vault.close();
      const b = new Uint8Array(readFileSync(other));
      // a's header (valid checksum, right key check) with b's body.
      const spliced = new Uint8Array(b.length);
      spliced.set(b);
      spliced.set(a.subarray(0, HEADER.length));
      await expectOpenFails(spliced, 'CORRUPT_FILE');
    });
  });

  describe('file permissions', () => {
    (posix ? it : it.skip)('creates the file and its lock 0600, even under a permissive umask', async () => {
      const previous = process.umask(0o000);
      try {
        const vault = await open();
        expect(statSync(path).mode & 0o777).toBe(0o600);
        expect(statSync(`${path}.lock`).mode & 0o777).toBe(0o600);
        await vault.generateKey('x25519');
        expect(statSync(path).mode & 0o777).toBe(0o600);
        await vault.close();
      } finally {
        process.umask(previous);
      }
    });

    (posix ? it : it.skip)('refuses a file readable by group or others (INSECURE_PERMISSIONS)', async () => {
      await populated();
      chmodSync(path, 0o644);
      await expectRejects(open(), 'INSECURE_PERMISSIONS');
      chmodSync(path, 0o620);
      await expectRejects(open(), 'INSECURE_PERMISSIONS');
      chmodSync(path, 0o600);
      await (await open()).close();
    });

    it('reports a missing directory as IO', async () => {
      await expectRejects(
        FileVault.open(join(dir, 'missing', 'vault'), { passphrase: PASSPHRASE }, options),
        'IO',
      );
    });
  });

  describe('locking', () => {
    it('refuses a second open while the first is open (LOCKED), and allows it after close', async () => {
      const first = await open();
      await expectRejects(open(), 'LOCKED');
      expect(readFileSync(`${path}.lock`, 'utf8').trim()).toBe(String(process.pid));
      await first.close();
      expect(existsSync(`${path}.lock`)).toBe(false);
      await (await open()).close();
    });

    it('refuses a lock held by another live process', async () => {
      writeFileSync(`${path}.lock`, `${process.ppid}\n`);
      const error = await expectRejects(open(), 'LOCKED');
      expect(error.message).toContain(String(process.ppid));
      expect(readFileSync(`${path}.lock`, 'utf8').trim()).toBe(String(process.ppid));
    });

    it('takes over a stale lock whose process is dead', async () => {
      const dead = deadPid();
      writeFileSync(`${path}.lock`, `${dead}\n`);
      const vault = await open();
      expect(readFileSync(`${path}.lock`, 'utf8').trim()).toBe(String(process.pid));
      await vault.close();
      expect(existsSync(`${path}.lock`)).toBe(false);
      expect(readdirSync(dir)).toEqual(['vault']); // no stale lock left aside
    });

    it('takes over a lock with our own pid that this process does not hold (a previous owner of the pid)', async () => {
      writeFileSync(`${path}.lock`, `${process.pid}\n`);
      await (await open()).close();
    });

    it('treats an unwritten lock as held while fresh and stale once old', async () => {
      writeFileSync(`${path}.lock`, '');
      await expectRejects(open(), 'LOCKED');
      const old = new Date(Date.now() - 60_000);
      const { utimesSync } = await import('node:fs');
      utimesSync(`${path}.lock`, old, old);
      await (await open()).close();
    });

    it('releases the lock when opening fails', async () => {
      await populated();
      await expectRejects(open({ passphrase: 'wrong' }), 'WRONG_PASSPHRASE');
      expect(existsSync(`${path}.lock`)).toBe(false);
    });
  });

  describe('close', () => {
    it('makes key operations fail with CLOSED, keeps the stateless ones, and is idempotent', async () => {
      const vault = await open();
      const id = await vault.generateKey('ed25519');
      await vault.close();
      await vault.close();
      await expectRejects(vault.generateKey('x25519'), 'CLOSED');
      await expectRejects(vault.listKeys(), 'CLOSED');
      await expectRejects(vault.publicKey(id), 'CLOSED');
      await expectRejects(vault.sign(id, new Uint8Array(1)), 'CLOSED');
      await expectRejects(vault.dh(id, new Uint8Array(32)), 'CLOSED');
      await expectRejects(vault.deleteKey(id), 'CLOSED');
      expect(vault.hash('sha256', new Uint8Array(0))).toHaveLength(32);
    });

    it('lets writes already queued finish before closing', async () => {
      const vault = await open();
      const pending = [vault.generateKey('x25519'), vault.generateKey('ed25519')];
      const closing = vault.close();
      const ids = await Promise.all(pending);
      await closing;
      const reopened = await open();
      expect((await reopened.listKeys()).map((k) => k.id)).toEqual(ids);
      await reopened.close();
    });
  });

  it('removes temp files a crashed writer left behind, and nothing else', async () => {
    await populated();
    writeFileSync(join(dir, 'vault.tmp-12345-0123456789abcdef'), 'leftover');
    writeFileSync(join(dir, 'vault.tmp-notes'), 'not ours');
    await (await open()).close();
    expect(readdirSync(dir).sort()).toEqual(['vault', 'vault.tmp-notes']);
  });

  it('exports Argon2id presets equal to libsodium constants', () => {
    expect(ARGON2ID_MIN).toEqual({
      opsLimit: sodium.crypto_pwhash_OPSLIMIT_MIN,
      memLimit: sodium.crypto_pwhash_MEMLIMIT_MIN,
    });
    expect(ARGON2ID_INTERACTIVE).toEqual({
      opsLimit: sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE,
      memLimit: sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE,
    });
  });
});
