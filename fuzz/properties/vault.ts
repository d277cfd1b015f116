import fc from 'fast-check';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEADER, decodeFile, encodeFile } from '../../src/vault/file-format';
import { ARGON2ID_MIN, newFileKeys, type FileVaultSecret } from '../../src/vault/file-keys';
import { decodeBody, encodeBody, type StoredKey } from '../../src/vault/key-records';
import { FileVault } from '../../src/vault/file-vault';
import { sodium, sodiumReady } from '../../src/crypto/sodium';
import { ALLOCATION_SLACK, measureAllocations } from './allocation-meter';
import { INTERESTING_INTEGERS, mutatedArb, mutationArb, applyMutations, noiseArb } from './mutate';
import {
  check,
  decodeOrRefuse,
  decodeOrRefuseAsync,
  defineProperty,
  expectRefusal,
  sameBytes,
  traceCase,
  type FuzzProperty,
  type Refusal,
} from './support';

const BODY_REFUSAL: Refusal = { name: 'VaultError', codes: ['CORRUPT_FILE'] };
/** Damage (not forgery) never reads as a wrong passphrase: the header checksum catches it first. */
const DAMAGE_REFUSAL: Refusal = { name: 'VaultError', codes: ['CORRUPT_FILE', 'UNSUPPORTED_VERSION'] };
/** What a header asking for an Argon2id cost out of bounds gets: damage, or a cost above the cap. */
const KDF_REFUSAL: Refusal = {
  name: 'VaultError',
  codes: ['CORRUPT_FILE', 'UNSUPPORTED_VERSION', 'KDF_TOO_COSTLY'],
};
/** A forger who recomputes the checksum can make a file read as a wrong secret, never yield keys. */
const FORGERY_REFUSAL: Refusal = {
  name: 'VaultError',
  codes: ['CORRUPT_FILE', 'UNSUPPORTED_VERSION', 'WRONG_PASSPHRASE'],
};

const utf8 = new TextEncoder();

/** Key ids: the vault's own (32 hex digits), and any other UTF-8 id of 1..255 bytes the format can hold. */
const keyIdArb = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('hex')),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }),
  fc.string({ unit: 'binary', minLength: 0, maxLength: 4 }).map((s) => `\uFEFF${s}`),
  // The longest: 255 bytes, in one-byte and in two-byte characters (254).
  fc.integer({ min: 240, max: 255 }).map((n) => 'k'.repeat(n)),
  fc.constant('é'.repeat(127)),
);

const storedKeysArb: fc.Arbitrary<StoredKey[]> = fc.uniqueArray(
  fc.record({
    id: keyIdArb,
    type: fc.constantFrom('x25519' as const, 'ed25519' as const),
    secret: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  }),
  { maxLength: 5, selector: (k) => k.id },
);

/** `count` keys with ids of the largest size (255 bytes): a vault file of count x 289 bytes and more. */
function manyKeys(count: number, seed: number): StoredKey[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${i}:${seed}:`.padEnd(255, 'x'),
    type: i % 2 === 0 ? ('x25519' as const) : ('ed25519' as const),
    secret: new Uint8Array(32).fill((i + seed) & 0xff),
  }));
}

/** Mostly a few keys, sometimes (1 in 50) a hundred to a thousand with the longest ids. */
const keySetArb: fc.Arbitrary<StoredKey[]> = fc.oneof(
  { weight: 49, arbitrary: storedKeysArb },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 100, max: 1_000 }), fc.nat()).map(([n, seed]) => manyKeys(n, seed)),
  },
);

function sameKeys(a: readonly StoredKey[], b: readonly StoredKey[]): boolean {
  return (
    a.length === b.length &&
    a.every((k, i) => k.id === b[i]!.id && k.type === b[i]!.type && sameBytes(k.secret, b[i]!.secret))
  );
}

const bodyRoundTrip = defineProperty('vault/body/round-trip', 20_000, 500, async () => {
  await sodiumReady(); // a refused body's secrets are wiped with libsodium
  return fc.property(keySetArb, (keys) => {
    const body = encodeBody(keys);
    traceCase(body);
    check(sameKeys(decodeBody(body), keys), 'a key set did not round-trip');
  });
});

/** Mutated plaintext bodies (as a forger holding the key could write): keys, or CORRUPT_FILE; strict. */
const bodyMutated = defineProperty('vault/body/mutated', 40_000, 1_000, async () => {
  await sodiumReady(); // a refused body's secrets are wiped with libsodium
  return fc.property(
    fc.oneof(
      mutatedArb(keySetArb.map(encodeBody)).map((m) => m.mutated),
      noiseArb,
    ),
    (body) => {
      traceCase(body);
      const outcome = decodeOrRefuse(BODY_REFUSAL, () => decodeBody(body));
      if (!outcome.ok) return;
      const ids = outcome.value.map((k) => k.id);
      check(new Set(ids).size === ids.length, 'duplicate key ids were accepted');
      check(
        outcome.value.every((k) => k.secret.length === 32 && utf8.encode(k.id).length >= 1),
        'a malformed key was accepted',
      );
      // Strict: every byte accounted for, so what decodes re-encodes to the very same bytes.
      check(
        sameBytes(encodeBody(outcome.value), body),
        'a body that decodes is not the encoding of what it decoded to',
      );
    },
  );
});

/** A body declaring up to 2^32 - 1 keys with a few bytes behind the count: refused without allocating for them. */
const bodyHostileCount = defineProperty('vault/body/hostile-count', 6_000, 200, async () => {
  await sodiumReady(); // a refused body's secrets are wiped with libsodium
  return fc.property(
    fc.oneof(
      fc.constantFrom(...INTERESTING_INTEGERS.filter((n) => n < 2 ** 32)),
      fc.integer({ min: 6, max: 0xffffffff }),
    ),
    keySetArb,
    (count, keys) => {
      const body = encodeBody(keys);
      new DataView(body.buffer).setUint32(0, count);
      traceCase(body);
      const measured = measureAllocations(() => decodeBody(body));
      if (measured.error !== undefined) expectRefusal(BODY_REFUSAL, measured.error);
      else check(count === keys.length, `a body declaring ${count} keys with ${keys.length} decoded`);
      check(
        measured.largest <= body.length + ALLOCATION_SLACK,
        `asked for ${measured.largest} bytes for a body of ${body.length}`,
      );
    },
  );
});

/** A vault file and the keys it holds. */
interface Sealed {
  readonly keys: readonly StoredKey[];
  readonly file: Uint8Array;
}

interface Files {
  readonly keySecret: FileVaultSecret;
  readonly passphrase: FileVaultSecret;
  /** Files sealed with the application key, and with the passphrase: sealing one per case would dominate. */
  readonly withKey: readonly Sealed[];
  readonly withPassphrase: readonly Sealed[];
}
let files: Files | undefined;

const POOL = 32;

async function setUp(): Promise<Files> {
  await sodiumReady();
  if (files === undefined) {
    const keySecret = { key: sodium().randombytes_buf(32) };
    const passphrase = { passphrase: 'correct horse' };
    const keySets = fc.sample(storedKeysArb, { numRuns: POOL, seed: 42 });
    keySets[0] = []; // an empty vault, as a new one is written
    // The largest: thousands of keys with the longest ids (1.2 MB), and a thousand (290 KB).
    keySets[POOL - 1] = manyKeys(4_000, 1);
    keySets[POOL - 2] = manyKeys(1_000, 2);
    files = {
      keySecret,
      passphrase,
      withKey: keySets.map((keys) => ({ keys, file: sealed(keySecret, keys) })),
      withPassphrase: keySets.map((keys) => ({ keys, file: sealed(passphrase, keys) })),
    };
  }
  return files;
}

/** A vault file holding `keys`, sealed with `secret` (the cheapest Argon2id cost for a passphrase). */
function sealed(secret: FileVaultSecret, keys: readonly StoredKey[]): Uint8Array {
  return encodeFile(newFileKeys(secret, ARGON2ID_MIN), keys);
}

const poolIndex = fc.nat({ max: POOL - 1 });

/** Decodes `file`; keys only for the undamaged file, and then exactly its keys. */
function checkDamaged(
  original: Uint8Array,
  file: Uint8Array,
  secret: FileVaultSecret,
  keys: readonly StoredKey[],
  refusal: Refusal,
): void {
  traceCase(file);
  const outcome = decodeOrRefuse(refusal, () => decodeFile(file, secret));
  if (outcome.ok) {
    check(sameBytes(file, original), 'a damaged vault file yielded keys');
    check(sameKeys(outcome.value.keys, keys), 'the vault file yielded other keys');
  }
}

const fileMutatedKey = defineProperty('vault/file/mutated-app-key', 30_000, 300, async () => {
  const { keySecret, withKey } = await setUp();
  return fc.property(poolIndex, fc.array(mutationArb(), { minLength: 1, maxLength: 4 }), (i, mutations) => {
    const { keys, file } = withKey[i]!;
    checkDamaged(file, applyMutations(file, mutations), keySecret, keys, DAMAGE_REFUSAL);
  });
});

const fileMutatedPassphrase = defineProperty('vault/file/mutated-passphrase', 3_000, 100, async () => {
  const { passphrase, withPassphrase } = await setUp();
  return fc.property(poolIndex, fc.array(mutationArb(), { minLength: 1, maxLength: 4 }), (i, mutations) => {
    const { keys, file } = withPassphrase[i]!;
    checkDamaged(file, applyMutations(file, mutations), passphrase, keys, DAMAGE_REFUSAL);
  });
});

/** Recomputes the (unkeyed) header checksum, as a deliberate forger would. */
function reseal(file: Uint8Array): Uint8Array {
  if (file.length < HEADER.length) return file;
  const out = file.slice();
  out.set(sodium().crypto_generichash(16, out.subarray(0, HEADER.checksum), null), HEADER.checksum);
  return out;
}

/**
 * Header fields changed with the checksum recomputed: the key check or the AEAD tag over the header still
 * refuses the file. Opened with the application key, so a forged Argon2id header is refused before any
 * Argon2id runs.
 */
const fileForgedHeader = defineProperty('vault/file/forged-header', 20_000, 200, async () => {
  const { keySecret, withKey } = await setUp();
  return fc.property(poolIndex, fc.array(mutationArb(), { minLength: 1, maxLength: 3 }), (i, mutations) => {
    const { keys, file: original } = withKey[i]!;
    // The header before its checksum, mutated but kept at its size (a shorter one is padded with zeros).
    const header = new Uint8Array(HEADER.checksum);
    header.set(applyMutations(original.subarray(0, HEADER.checksum), mutations).subarray(0, HEADER.checksum));
    const forged = original.slice();
    forged.set(header);
    checkDamaged(original, reseal(forged), keySecret, keys, FORGERY_REFUSAL);
  });
});

/**
 * A forged passphrase header asking for Argon2id costs beyond the reader's bounds: above the cost cap
 * (`ARGON2ID_MAX`: more passes, memory or passes x memory than about a second's work) refused as
 * KDF_TOO_COSTLY, under libsodium's minimum as CORRUPT_FILE; either before Argon2id runs or allocates.
 */
const fileHostileKdf = defineProperty('vault/file/hostile-kdf-params', 3_000, 100, async () => {
  const { passphrase, withPassphrase } = await setUp();
  const original = withPassphrase[0]!.file;
  return fc.property(
    fc.oneof(
      fc.record({
        opsLimit: fc.integer({ min: 17, max: 0xffffffff }),
        memLimit: fc.integer({ min: 8192, max: 0xffffffff }),
      }),
      fc.record({
        opsLimit: fc.integer({ min: 0, max: 0xffffffff }),
        memLimit: fc.integer({ min: 2 ** 30 + 1, max: 0xffffffff }),
      }),
      fc.record({
        opsLimit: fc.integer({ min: 1, max: 16 }),
        memLimit: fc.integer({ min: 128 * 2 ** 20 + 1, max: 2 ** 30 }),
      }),
      fc.record({ opsLimit: fc.integer({ min: 0, max: 0xffffffff }), memLimit: fc.nat({ max: 8191 }) }),
      fc.record({ opsLimit: fc.constant(0), memLimit: fc.integer({ min: 0, max: 0xffffffff }) }),
    ),
    ({ opsLimit, memLimit }) => {
      const forged = original.slice();
      const view = new DataView(forged.buffer);
      view.setUint32(HEADER.opsLimit, opsLimit);
      view.setUint32(HEADER.memLimit, memLimit);
      const file = reseal(forged);
      traceCase(file);
      const measured = measureAllocations(() => decodeFile(file, passphrase));
      const error = expectRefusal(
        KDF_REFUSAL,
        measured.error ?? new Error('a forged Argon2id cost was accepted'),
      );
      check(error.code !== 'UNSUPPORTED_VERSION', `refused as ${error.code}`);
      check(measured.largest <= file.length + ALLOCATION_SLACK, `asked for ${measured.largest} bytes`);
    },
  );
});

let directory: string | undefined;

function scratchDirectory(): string {
  if (directory === undefined) {
    directory = mkdtempSync(join(tmpdir(), 'sealroute-fuzz-vault-'));
    process.once('exit', removeVaultScratch);
  }
  return directory;
}

/**
 * Removes the scratch directory of the file properties. Also runs at exit, but a Jest worker may be ended
 * without an exit event, so the test file calls it itself.
 */
export function removeVaultScratch(): void {
  if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  directory = undefined;
}

/**
 * `FileVault.open` on a mutated file on disk (private mode, so only the contents are wrong): it opens only the
 * undamaged file, with exactly its keys, and otherwise refuses with a typed VaultError and releases its lock,
 * so the genuine file opens right after.
 */
const fileVaultOpen = defineProperty('vault/file-vault/open', 1_500, 20, async () => {
  const { keySecret, withKey } = await setUp();
  const path = join(scratchDirectory(), `vault-${process.pid}`);
  return fc.asyncProperty(
    // Not the two largest files: opening imports every key (decodeFile, above, reads them at every size).
    fc.nat({ max: POOL - 3 }),
    fc.array(mutationArb(), { minLength: 1, maxLength: 3 }),
    async (i, mutations) => {
      const { keys, file: original } = withKey[i]!;
      const file = applyMutations(original, mutations);
      writeFileSync(path, file, { mode: 0o600 });
      chmodSync(path, 0o600);
      traceCase(file);
      const outcome = await decodeOrRefuseAsync(DAMAGE_REFUSAL, () => FileVault.open(path, keySecret));
      if (outcome.ok) {
        const held = await outcome.value.listKeys();
        await outcome.value.close();
        check(sameBytes(file, original), 'FileVault opened a damaged file');
        check(
          held.length === keys.length &&
            held.every((k, i) => k.id === keys[i]!.id && k.type === keys[i]!.type),
          'FileVault holds other keys',
        );
        return;
      }
      writeFileSync(path, original, { mode: 0o600 });
      const reopened = await FileVault.open(path, keySecret);
      await reopened.close();
    },
  );
});

/** The vault file format's properties, pure and on disk. */
export const vaultProperties: readonly FuzzProperty[] = [
  bodyRoundTrip,
  bodyMutated,
  bodyHostileCount,
  fileMutatedKey,
  fileMutatedPassphrase,
  fileForgedHeader,
  fileHostileKdf,
  fileVaultOpen,
];
