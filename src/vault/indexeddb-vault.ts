import { sodium, sodiumReady } from '../crypto/sodium';
import { VaultError } from './errors';
import { encodeFile, unlockFile } from './file-format';
import {
  ARGON2ID_INTERACTIVE,
  checkParams,
  checkSecret,
  wipeFileKeys,
  type Argon2Params,
  type FileKeys,
  type FileVaultSecret,
} from './file-keys';
import type { KeyEntry } from './key-store';
import { PersistentKeyStoreVault } from './key-store-vault';

/** The little of IndexedDB this vault uses (a browser's `indexedDB`; no DOM typings needed). */
interface Idb {
  open(
    name: string,
    version?: number,
  ): IdbRequest<IdbDatabase> & {
    onupgradeneeded: ((this: { result: IdbDatabase }) => void) | null;
  };
}
interface IdbRequest<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbDatabase {
  createObjectStore(name: string): unknown;
  transaction(
    store: string,
    mode: 'readonly' | 'readwrite',
  ): {
    objectStore(name: string): {
      get(key: string): IdbRequest<unknown>;
      put(value: unknown, key: string): IdbRequest<unknown>;
    };
  };
  close(): void;
}

const DATABASE = 'sealroute';
const STORE = 'vaults';

/** Where and how an `IndexedDbVault` is kept. */
export interface IndexedDbVaultOptions {
  /** Argon2id cost when `secret` is a passphrase. Default `ARGON2ID_INTERACTIVE`. */
  readonly kdf?: Argon2Params;
  /** The IndexedDB factory. Default: the browser's `indexedDB`. */
  readonly indexedDB?: unknown;
}

function request<T>(req: IdbRequest<T>, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new VaultError('IO', `IndexedDB: cannot ${what}`, { cause: req.error }));
  });
}

async function openDatabase(factory: Idb): Promise<IdbDatabase> {
  const req = factory.open(DATABASE, 1);
  req.onupgradeneeded = function () {
    this.result.createObjectStore(STORE);
  };
  return request(req, `open the database ${DATABASE}`);
}

/**
 * The secret of a vault opened without one: 32 random bytes kept in IndexedDB encrypted (AES-256-GCM) under
 * a WebCrypto key that is not extractable, stored beside it. Script of this origin can use the key but
 * never read it, and the bytes on disk are ciphertext: what the file vault's key file gives on a disk, in a
 * browser profile.
 */
async function originSecret(db: IdbDatabase, name: string): Promise<Uint8Array> {
  const subtle = crypto.subtle;
  const slot = `secret:${name}`;
  const stored = (await request(db.transaction(STORE, 'readonly').objectStore(STORE).get(slot), 'read')) as
    { key: CryptoKeyLike; iv: Uint8Array; sealed: ArrayBuffer } | undefined;
  if (stored !== undefined) {
    return new Uint8Array(
      await subtle.decrypt({ name: 'AES-GCM', iv: stored.iv }, stored.key as never, stored.sealed),
    );
  }
  const key = await subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await subtle.encrypt({ name: 'AES-GCM', iv }, key, secret);
  await request(
    db.transaction(STORE, 'readwrite').objectStore(STORE).put({ key, iv, sealed }, slot),
    'write',
  );
  return secret;
}

type CryptoKeyLike = object;

/**
 * A vault kept in the browser's IndexedDB, so a page's identity survives a reload: the same format and
 * encryption at rest as the file vault (Argon2id from a passphrase, or a 32-byte key; XChaCha20-Poly1305
 * over every key), one record per vault name. Without a secret, a random one is kept wrapped by a
 * non-extractable WebCrypto key (see `originSecret`). Browser only (Node has `FileVault`).
 */
export class IndexedDbVault extends PersistentKeyStoreVault {
  // Secrets live in #private fields: no spread, Object.entries, structuredClone or printout reaches them.
  readonly #fileKeys: FileKeys;

  private constructor(
    /** The vault's name in the database. */
    readonly name: string,
    private readonly db: IdbDatabase,
    fileKeys: FileKeys,
  ) {
    super();
    this.#fileKeys = fileKeys;
  }

  protected override describe(): Record<string, unknown> {
    return { name: this.name, keys: this.keys.size };
  }

  /**
   * Opens the vault `name`, creating it empty if there is none. Throws `VaultError` `WRONG_PASSPHRASE`,
   * `CORRUPT_FILE`, `UNSUPPORTED_VERSION`, `INVALID_ARGUMENT` or `IO` (IndexedDB missing or failing).
   */
  static async open(
    name: string,
    secret?: FileVaultSecret,
    options: IndexedDbVaultOptions = {},
  ): Promise<IndexedDbVault> {
    await sodiumReady();
    const factory = (options.indexedDB ?? (globalThis as { indexedDB?: unknown }).indexedDB) as
      Idb | undefined;
    if (factory === undefined) throw new VaultError('IO', 'this runtime has no IndexedDB');
    const params = options.kdf ?? ARGON2ID_INTERACTIVE;
    checkParams(params);
    const db = await openDatabase(factory);
    const unlock = secret ?? { key: await originSecret(db, name) };
    checkSecret(unlock);
    const slot = `vault:${name}`;
    const existing = (await request(
      db.transaction(STORE, 'readonly').objectStore(STORE).get(slot),
      'read',
    )) as Uint8Array | undefined;
    const bytes = existing === undefined ? undefined : new Uint8Array(existing);
    const { fileKeys, keys: stored } = unlockFile(bytes, unlock, params);
    if (secret === undefined) sodium().memzero((unlock as { key: Uint8Array }).key);
    const vault = new IndexedDbVault(name, db, fileKeys);
    vault.adopt(stored);
    stored.forEach((key) => sodium().memzero(key.secret));
    if (existing === undefined) await vault.persist([]);
    return vault;
  }

  /** Waits for pending writes, wipes every key and closes the database. */
  async close(): Promise<void> {
    await this.writesSettled();
    this.keys.clear();
    wipeFileKeys(this.#fileKeys);
    this.db.close();
  }

  /** Writes the record holding exactly the non-ephemeral keys among `entries`. */
  protected async persist(entries: readonly KeyEntry[]): Promise<void> {
    const record = encodeFile(
      this.#fileKeys,
      entries.filter((entry) => !entry.ephemeral),
    );
    await request(
      this.db.transaction(STORE, 'readwrite').objectStore(STORE).put(record, `vault:${this.name}`),
      'write',
    );
  }
}
