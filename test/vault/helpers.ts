import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VaultError, type VaultErrorCode } from '../../src/vault/errors';

/** Hex to bytes. */
export function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** Bytes to hex. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** A copy of `bytes` with bit(s) `mask` flipped at `index`. */
export function flipped(bytes: Uint8Array, index: number, mask = 0x01): Uint8Array {
  const copy = bytes.slice();
  copy[index] ^= mask;
  return copy;
}

/** Asserts that `promise` rejects with a VaultError of `code`. */
export async function expectRejects(promise: Promise<unknown>, code: VaultErrorCode): Promise<VaultError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VaultError);
  expect(error).toMatchObject({ name: 'VaultError', origin: 'vault', code });
  return error as VaultError;
}

/** Asserts that `fn` throws a VaultError of `code`. */
export function expectThrows(fn: () => unknown, code: VaultErrorCode): VaultError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(VaultError);
  expect(error).toMatchObject({ name: 'VaultError', origin: 'vault', code });
  return error as VaultError;
}

/** A fresh private temp directory; `cleanup` removes it with everything in it. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sealroute-vault-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
