import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { checkAttributes, type Attributes } from '../identity/credential';
import { isIdentifier } from '../identity/identity';
import { removeStaleTempFiles } from '../vault/atomic-file';
import { errnoCode } from '../vault/errno';
import { FileLock } from '../vault/file-lock';
import { JsonStateFile } from '../vault/json-state-file';
import { AuthorityError } from './authority-errors';

/** A member of an authority: whom it vouches for, and with which attributes. */
export interface MemberRecord {
  readonly identifier: string;
  readonly attributes: Attributes;
  /** When it was added (ms since the epoch). */
  readonly addedAt: number;
  /** Who added it: an enroller's identifier, `ticket:<id>`, or `config` for the authority's own options. */
  readonly addedBy: string;
}

/** An enrollment ticket as the authority keeps it: never its secret, only the secret's SHA-256. */
export interface TicketRecord {
  /** 16 hex digits: how the ticket is looked up. */
  readonly id: string;
  /** Hex SHA-256 of the 16-byte secret. */
  readonly secretHash: string;
  readonly attributes: Attributes;
  readonly expiresAt: number;
  /** Uses left: 0 once used up (kept until it expires, so that a second use is told apart from a guess). */
  readonly usesLeft: number;
  readonly createdBy: string;
}

/** What the member table file holds. */
export interface AuthorityState {
  readonly members: readonly MemberRecord[];
  readonly tickets: readonly TicketRecord[];
}

const FORMAT = 'sealroute-authority';
const VERSION = 1;
const HEX16 = /^[0-9a-f]{16}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * An authority's member table and tickets on disk: one JSON file, replaced atomically (temp file, fsync,
 * rename, fsync of the directory) on every change, so that a crash (`kill -9`) leaves the previous or the
 * next table, never a mixture; `<path>.lock` keeps a second authority off the same file. Writes are
 * coalesced; `save` resolves once a write that includes the caller's change is durable, and the authority
 * answers a request only then.
 */
export class AuthorityStateFile extends JsonStateFile<AuthorityState> {
  private constructor(path: string, lock: FileLock) {
    super(path, lock, { format: FORMAT, version: VERSION });
  }

  /**
   * Takes the file's lock and reads the table (an absent file is an empty table). Throws `AuthorityError`
   * `STATE_FILE` if it is locked by a live process, unreadable or malformed: an authority that started
   * empty instead would forget its members.
   */
  static async open(path: string): Promise<{ file: AuthorityStateFile; state: AuthorityState }> {
    const absolute = resolve(path);
    let lock: FileLock;
    try {
      lock = await FileLock.acquire(`${absolute}.lock`);
    } catch (cause) {
      throw new AuthorityError('STATE_FILE', `cannot lock the authority's member table ${absolute}`, {
        cause,
      });
    }
    try {
      await removeStaleTempFiles(absolute);
      return { file: new AuthorityStateFile(absolute, lock), state: await read(absolute) };
    } catch (error) {
      await lock.release();
      throw error;
    }
  }
}

async function read(path: string): Promise<AuthorityState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if (errnoCode(cause) === 'ENOENT') return { members: [], tickets: [] };
    throw new AuthorityError('STATE_FILE', `cannot read the authority's member table ${path}`, { cause });
  }
  const fail = (detail: string, cause?: unknown) =>
    new AuthorityError('STATE_FILE', `the authority's member table ${path} ${detail}`, { cause });
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch (cause) {
    throw fail('is not JSON', cause);
  }
  if (
    typeof value !== 'object' ||
    value === null ||
    value.format !== FORMAT ||
    value.version !== VERSION ||
    !Array.isArray(value.members) ||
    !Array.isArray(value.tickets)
  ) {
    throw fail(`is not a v${VERSION} table`);
  }
  try {
    return {
      members: (value.members as unknown[]).map(memberOf),
      tickets: (value.tickets as unknown[]).map(ticketOf),
    };
  } catch (cause) {
    throw fail('holds a malformed entry', cause);
  }
}

function memberOf(value: unknown): MemberRecord {
  const v = value as Record<string, unknown>;
  if (!isIdentifier(v.identifier) || typeof v.addedAt !== 'number' || typeof v.addedBy !== 'string') {
    throw new Error('malformed member');
  }
  return {
    identifier: v.identifier,
    attributes: checkAttributes(v.attributes),
    addedAt: v.addedAt,
    addedBy: v.addedBy,
  };
}

function ticketOf(value: unknown): TicketRecord {
  const v = value as Record<string, unknown>;
  if (
    typeof v.id !== 'string' ||
    !HEX16.test(v.id) ||
    typeof v.secretHash !== 'string' ||
    !HEX64.test(v.secretHash) ||
    typeof v.expiresAt !== 'number' ||
    typeof v.usesLeft !== 'number' ||
    !Number.isSafeInteger(v.usesLeft) ||
    v.usesLeft < 0 ||
    typeof v.createdBy !== 'string'
  ) {
    throw new Error('malformed ticket');
  }
  return {
    id: v.id,
    secretHash: v.secretHash,
    attributes: checkAttributes(v.attributes),
    expiresAt: v.expiresAt,
    usesLeft: v.usesLeft,
    createdBy: v.createdBy,
  };
}
