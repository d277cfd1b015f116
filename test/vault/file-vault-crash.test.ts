import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ARGON2ID_MIN } from '../../src/vault/file-keys';
import { FileVault } from '../../src/vault/file-vault';
import type { KeyInfo } from '../../src/vault/vault';
import { expectRejects, tempDir, toHex } from './helpers';
import { scaled } from '../helpers/slowdown';

// Slow work on a busy machine: a budget scaled by its measured slowdown.
jest.setTimeout(scaled(180_000));

const ROUNDS = 10;
const PASSPHRASE = 'crash test passphrase';
const ROOT = resolve(__dirname, '../..');
const WRITER = join(__dirname, 'fixtures', 'vault-writer.ts');

/** A running writer child and what it has reported so far. */
interface Writer {
  readonly child: ChildProcessWithoutNullStreams;
  /** Persistent keys in the file after the last write the child reported as complete. */
  committed: number;
  /** Persistent keys the child found when it opened the file (`ready <n>`), or -1 before that. */
  ready: number;
  readonly exited: Promise<void>;
  stderr: string;
}

function startWriter(path: string): Writer {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', WRITER, path, PASSPHRASE], {
    cwd: ROOT,
    stdio: 'pipe',
  });
  const writer: Writer = {
    child,
    committed: -1,
    ready: -1,
    stderr: '',
    exited: new Promise((done) => child.once('exit', () => done())),
  };
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const match = /^(ready|committed) (\d+)$/.exec(line);
      if (match !== null) {
        writer.committed = Number(match[2]);
        if (match[1] === 'ready') writer.ready = writer.committed;
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (writer.stderr += chunk));
  return writer;
}

/** Resolves once `predicate` holds, polling; rejects after `timeoutMs`. */
async function until(predicate: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + scaled(timeoutMs);
  while (!predicate()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what()}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('FileVault crash safety', () => {
  const writers: Writer[] = [];
  let dir: string;
  let cleanup: () => void;

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
  });

  afterEach(async () => {
    for (const writer of writers.splice(0)) {
      writer.child.kill('SIGKILL');
      await writer.exited;
    }
    cleanup();
  });

  it(`survives kill -9 at random moments during writes (${ROUNDS} rounds)`, async () => {
    const path = join(dir, 'vault');
    let previous: readonly KeyInfo[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const writer = startWriter(path);
      writers.push(writer);
      await until(
        () => writer.committed >= 0 || writer.child.exitCode !== null,
        20_000,
        () => `the writer to open the vault (stderr: ${writer.stderr})`,
      );
      expect(writer.child.exitCode).toBeNull();
      // What it found on opening: `committed` may already count a write made since (one chunk of output can
      // hold `ready` and the first `committed` lines).
      expect(writer.ready).toBe(previous.length);

      if (round === 0) {
        // A live process holds the lock: this one must not get in.
        await expectRejects(
          FileVault.open(path, { passphrase: PASSPHRASE }, { kdf: ARGON2ID_MIN }),
          'LOCKED',
        );
      }

      await sleep(20 + Math.floor(Math.random() * 181));
      writer.child.kill('SIGKILL');
      await writer.exited;
      expect(writer.child.signalCode).toBe('SIGKILL');

      // The killed writer's lock is stale now; opening takes it over and must find a consistent file.
      const vault = await FileVault.open(path, { passphrase: PASSPHRASE }, { kdf: ARGON2ID_MIN });
      try {
        const keys = await vault.listKeys();
        // Every write the child saw complete is there; at most one more (completed, not yet reported).
        expect(keys.length).toBeGreaterThanOrEqual(writer.committed);
        expect(keys.length).toBeLessThanOrEqual(writer.committed + 1);
        // Keys only ever get added: the previous round's keys are all still there, unchanged.
        expect(keys.slice(0, previous.length)).toEqual(previous);
        for (const key of keys) {
          if (key.type === 'ed25519') {
            const data = new TextEncoder().encode(key.id);
            expect(vault.verify(key.publicKey, data, await vault.sign(key.id, data))).toBe(true);
          } else {
            const peer = keys[0].type === 'x25519' ? keys[0] : key;
            expect(toHex(await vault.dh(key.id, peer.publicKey))).toBe(
              toHex(await vault.dh(peer.id, key.publicKey)),
            );
          }
        }
        previous = keys;
      } finally {
        await vault.close();
      }
      // Opening removed any temp file the kill left behind, and close() released the lock.
      expect(readdirSync(dir)).toEqual(['vault']);
    }
    // The writers did get writes in: the test exercised something.
    expect(previous.length).toBeGreaterThan(ROUNDS);
  });
});
