import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sodiumModule from 'libsodium-wrappers-sumo';
import { HEADER } from '../../src/vault/file-format';
import { ARGON2ID_INTERACTIVE, ARGON2ID_MAX, ARGON2ID_MIN, checkParams } from '../../src/vault/file-keys';
import { FileVault } from '../../src/vault/file-vault';
import { sodiumReady } from '../../src/crypto/sodium';
import { expectRejects, expectThrows, tempDir } from './helpers';
import { scaled } from '../helpers/slowdown';

// A vault header is only authenticated once Argon2id has run (the key check needs its output), so anyone who
// can write the file chooses what opening it costs. The cost is capped (ARGON2ID_MAX) and a forged header
// above the cap is refused with KDF_TOO_COSTLY before any Argon2id work.

const PASSPHRASE = 'forged headers must stay cheap';
let scratch: { dir: string; cleanup: () => void };
let path: string;
beforeAll(() => sodiumReady());
beforeEach(() => {
  scratch = tempDir();
  path = join(scratch.dir, 'vault');
});
afterEach(() => scratch.cleanup());

/** The vault file with its Argon2id cost rewritten and its header checksum recomputed, as a forger would. */
function forge(opsLimit: number, memLimit: number): void {
  const file = new Uint8Array(readFileSync(path));
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  view.setUint32(HEADER.opsLimit, opsLimit);
  view.setUint32(HEADER.memLimit, memLimit);
  file.set(sodiumModule.crypto_generichash(16, file.subarray(0, HEADER.checksum), null), HEADER.checksum);
  writeFileSync(path, file);
}

async function populated(): Promise<void> {
  const vault = await FileVault.open(path, { passphrase: PASSPHRASE }, { kdf: ARGON2ID_MIN });
  await vault.generateKey('ed25519');
  await vault.close();
}

describe('the Argon2id cost cap', () => {
  it('is at most twice the interactive cost: 4 passes over 64 MiB, or 2 over 128 MiB', () => {
    expect(ARGON2ID_MAX.cost).toBe(2 * ARGON2ID_INTERACTIVE.opsLimit * ARGON2ID_INTERACTIVE.memLimit);
    expect(() => checkParams(ARGON2ID_INTERACTIVE)).not.toThrow();
    expect(() => checkParams({ opsLimit: 4, memLimit: 64 * 1024 * 1024 })).not.toThrow();
    expect(() => checkParams({ opsLimit: 2, memLimit: 128 * 1024 * 1024 })).not.toThrow();
    expectThrows(() => checkParams({ opsLimit: 3, memLimit: 128 * 1024 * 1024 }), 'KDF_TOO_COSTLY');
    expectThrows(() => checkParams({ opsLimit: 1, memLimit: 256 * 1024 * 1024 }), 'KDF_TOO_COSTLY');
    expectThrows(() => checkParams({ opsLimit: 17, memLimit: 8192 }), 'KDF_TOO_COSTLY');
    expectThrows(() => checkParams({ opsLimit: 0, memLimit: 8192 }), 'INVALID_ARGUMENT');
  });

  it.each([
    ['the most libsodium allows', 0xffff_ffff, 0xffff_ffff],
    ['4 GiB, one pass', 1, 0xffff_fc00],
    ['1 GiB, 16 passes (the old cap)', 16, 1024 * 1024 * 1024],
    ['just above the cap', 3, 128 * 1024 * 1024],
  ])('refuses a forged header asking for %s with KDF_TOO_COSTLY, at once', async (_what, ops, mem) => {
    await populated();
    forge(ops, mem);
    const started = Date.now();
    const error = await expectRejects(FileVault.open(path, { passphrase: PASSPHRASE }), 'KDF_TOO_COSTLY');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error.message).toContain(`${ops} passes over ${mem} bytes`);
    // The lock was released: the file is not left locked by the refusal.
    forge(ARGON2ID_MIN.opsLimit, ARGON2ID_MIN.memLimit);
    await (await FileVault.open(path, { passphrase: PASSPHRASE })).close();
  });

  it('runs a forged header at the cap, which costs about a second at most, and then fails the key check', async () => {
    await populated();
    forge(4, 64 * 1024 * 1024);
    const started = Date.now();
    // The forger changed the KDF input, so the key check fails; what matters is what it cost to find out.
    await expectRejects(FileVault.open(path, { passphrase: PASSPHRASE }), 'WRONG_PASSPHRASE');
    const elapsed = Date.now() - started;
    // About a second on an idle machine; the bound is generous, and grows with the machine's measured load.
    expect(elapsed).toBeLessThan(scaled(10_000));
  });
});
