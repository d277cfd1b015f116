import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { removeStaleTempFiles } from '../vault/atomic-file';
import { errnoCode } from '../vault/errno';
import { FileLock } from '../vault/file-lock';
import { JsonStateFile } from '../vault/json-state-file';
import { ServicesError } from './errors';
import { FORWARDER_NAME, NAMED_PREFIX, RANDOM_ADDRESS } from './forwarding-messages';

/**
 * A forwarder's slot in the hub's table, as it is kept on disk: who may take it back (the SHA-256 of its
 * token, and for a bound name its owner's identifier), never a token itself.
 */
export interface SlotRecord {
  /** `fwd.r.<32 hex>` or `fwd.n.<name>`. */
  readonly address: string;
  /** The owner's identifier (`I` + 40 hex) for an identity-bound name. */
  readonly owner: string | undefined;
  /** Hex SHA-256 of the current token. */
  readonly tokenHash: string;
  /** The source (remote IP, or /64 for IPv6) it was last registered from. */
  readonly source: string;
  /** When its forwarder went away (ms since the epoch); 0 while it was live. */
  readonly releasedAt: number;
}

/** What the state file holds. */
export interface ForwarderState {
  /** The hub's instance id (32 hex), signed in name claims; kept across restarts. */
  readonly hub: string;
  readonly slots: readonly SlotRecord[];
}

const FORMAT = 'sealroute-forwarders';
const VERSION = 1;
const HEX32 = /^[0-9a-f]{32}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const IDENTIFIER = /^I[0-9a-f]{40}$/;

function isSlotRecord(value: unknown): value is SlotRecord {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const address = v.address;
  const validAddress =
    typeof address === 'string' &&
    (RANDOM_ADDRESS.test(address) ||
      (address.startsWith(NAMED_PREFIX) && FORWARDER_NAME.test(address.slice(NAMED_PREFIX.length))));
  return (
    validAddress &&
    (v.owner === undefined || (typeof v.owner === 'string' && IDENTIFIER.test(v.owner))) &&
    typeof v.tokenHash === 'string' &&
    HEX64.test(v.tokenHash) &&
    typeof v.source === 'string' &&
    v.source.length <= 256 &&
    typeof v.releasedAt === 'number' &&
    Number.isFinite(v.releasedAt)
  );
}

/**
 * The hub's forwarder table on disk: one JSON file, replaced atomically (temp file, fsync, rename, fsync of
 * the directory) on every change, so a crash (`kill -9`) leaves the previous or the next table, never a
 * mixture. `<path>.lock` keeps a second hub off the same file. Writes are coalesced: at most one is in
 * flight, and `save` resolves once a write that includes the caller's change is durable.
 */
export class ForwarderStateFile extends JsonStateFile<ForwarderState> {
  private constructor(path: string, lock: FileLock) {
    super(path, lock, { format: FORMAT, version: VERSION });
  }

  /**
   * Takes the file's lock and reads the table (an absent file is an empty table with a new hub id).
   * Throws `ServicesError` `STATE_FILE` if the file is locked by a live process, unreadable or malformed:
   * a hub that started with an empty table instead would give bound names away.
   */
  static async open(path: string): Promise<{ file: ForwarderStateFile; state: ForwarderState }> {
    const absolute = resolve(path);
    let lock: FileLock;
    try {
      lock = await FileLock.acquire(`${absolute}.lock`);
    } catch (err) {
      throw new ServicesError('STATE_FILE', `cannot lock the forwarder state file ${absolute}`, {
        cause: err,
      });
    }
    try {
      await removeStaleTempFiles(absolute);
      const state = await read(absolute);
      return { file: new ForwarderStateFile(absolute, lock), state };
    } catch (err) {
      await lock.release();
      throw err;
    }
  }
}

async function read(path: string): Promise<ForwarderState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { hub: randomBytes(16).toString('hex'), slots: [] };
    throw new ServicesError('STATE_FILE', `cannot read the forwarder state file ${path}`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ServicesError('STATE_FILE', `the forwarder state file ${path} is not JSON`, { cause: err });
  }
  const v = value as Record<string, unknown> | null;
  if (
    typeof v !== 'object' ||
    v === null ||
    v.format !== FORMAT ||
    v.version !== VERSION ||
    typeof v.hub !== 'string' ||
    !HEX32.test(v.hub) ||
    !Array.isArray(v.slots) ||
    !v.slots.every(isSlotRecord)
  ) {
    throw new ServicesError('STATE_FILE', `the forwarder state file ${path} is not a v${VERSION} table`);
  }
  return { hub: v.hub, slots: v.slots as SlotRecord[] };
}
