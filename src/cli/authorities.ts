/**
 * Authorities and credentials as the command keeps them in the config directory:
 *
 * - `authorities/<identifier>.json` (public): an authority this directory knows, with its public key and,
 *   when known, its address and name. `authority start` records its own; `enroll` records the ticket's. An
 *   authority can then be named by identifier or name (`hub start --authority I…`), besides by public key
 *   or by file.
 * - `credentials/<identity>.json` (mode 0600): the credential an identity got by enrolling, with the
 *   authority it came from, so that later commands present it and renew it there.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError } from './output';
import { configDir } from './paths';

/** An authority as recorded here. */
export interface KnownAuthority {
  readonly identifier: string;
  /** Its identity public key, 64 hex digits: what verifies its credentials. */
  readonly publicKey: string;
  /** Where its listener is (`host:port`), if known. */
  readonly address?: string;
  /** The name of the node that runs it, if it runs from this directory. */
  readonly name?: string;
}

/** A credential an identity enrolled for. */
export interface StoredCredential {
  readonly authority: KnownAuthority;
  /** The credential, base64url. */
  readonly credential: string;
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const IDENTIFIER = /^I[0-9a-f]{40}$/;

const authoritiesDir = (): string => join(configDir(), 'authorities');
const credentialsDir = (): string => join(configDir(), 'credentials');

/** Writes `value` as JSON atomically (a temporary file renamed over the old one). */
async function writeJson(file: string, value: unknown, mode: number): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode });
  await rename(temporary, file);
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (cause) {
    throw new CliError('FAILED', `cannot read ${file}`, { cause });
  }
}

function asKnownAuthority(value: unknown, source: string): KnownAuthority {
  const record = value as Partial<KnownAuthority> | null;
  if (
    typeof record !== 'object' ||
    record === null ||
    typeof record.publicKey !== 'string' ||
    !HEX_KEY.test(record.publicKey) ||
    typeof record.identifier !== 'string' ||
    !IDENTIFIER.test(record.identifier)
  ) {
    throw new CliError('CONFIG', `${source} does not describe an authority (identifier and publicKey)`);
  }
  return {
    identifier: record.identifier,
    publicKey: record.publicKey.toLowerCase(),
    ...(typeof record.address === 'string' ? { address: record.address } : {}),
    ...(typeof record.name === 'string' ? { name: record.name } : {}),
  };
}

/** Records an authority (merging with what was known of it). */
export async function rememberAuthority(authority: KnownAuthority): Promise<string> {
  await mkdir(authoritiesDir(), { recursive: true, mode: 0o700 });
  const file = join(authoritiesDir(), `${authority.identifier}.json`);
  const before = existsSync(file) ? asKnownAuthority(readJson(file), file) : undefined;
  await writeJson(file, { ...before, ...authority }, 0o644);
  return file;
}

/** The authorities this directory knows. */
export function knownAuthorities(): KnownAuthority[] {
  const dir = authoritiesDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => /^I[0-9a-f]{40}\.json$/.test(file))
    .map((file) => asKnownAuthority(readJson(join(dir, file)), join(dir, file)));
}

/**
 * The authority `ref` names: a public key (64 hex digits), an identifier or a name this directory knows, or
 * a file (`authority start` writes `authorities/<identifier>.json`; any JSON with `identifier` and
 * `publicKey`, or a file whose first line is the public key). Without `ref`, the only one known.
 */
export function resolveAuthority(ref: string | undefined): KnownAuthority {
  const known = knownAuthorities();
  if (ref === undefined) {
    if (known.length === 1) return known[0]!;
    throw new CliError(
      'USAGE',
      known.length === 0
        ? 'no authority is known here: name one with --authority (its public key, or its file)'
        : `${known.length} authorities are known here: name one with --authority`,
    );
  }
  if (HEX_KEY.test(ref)) {
    const byKey = known.find((a) => a.publicKey === ref.toLowerCase());
    return byKey ?? { identifier: identifierOfKey(ref), publicKey: ref.toLowerCase() };
  }
  const byName = known.find((a) => a.identifier === ref || a.name === ref);
  if (byName !== undefined) return byName;
  if (IDENTIFIER.test(ref)) {
    throw new CliError(
      'USAGE',
      `authority ${ref} is not known here: an identifier cannot check signatures, give its public key or its file`,
    );
  }
  if (!existsSync(ref)) throw new CliError('USAGE', `no authority named "${ref}" here, and no such file`);
  const text = readFileSync(ref, 'utf8').trim();
  const firstLine = text.split(/\r?\n/)[0] ?? '';
  if (HEX_KEY.test(firstLine)) return { identifier: identifierOfKey(firstLine), publicKey: firstLine };
  try {
    return asKnownAuthority(JSON.parse(text), ref);
  } catch (cause) {
    if (cause instanceof CliError) throw cause;
    throw new CliError('CONFIG', `${ref} is neither an authority file nor a public key`, { cause });
  }
}

/** `I` and the hex of the first 20 bytes of SHA-256(key), as the library derives identifiers. */
function identifierOfKey(hex: string): string {
  return 'I' + createHash('sha256').update(Buffer.from(hex, 'hex')).digest().subarray(0, 20).toString('hex');
}

/** Keeps the credential `identity` enrolled for (mode 0600: it is only useful with the identity's key). */
export async function saveCredential(
  identity: string,
  authority: KnownAuthority,
  credential: Uint8Array,
): Promise<string> {
  await mkdir(credentialsDir(), { recursive: true, mode: 0o700 });
  const file = join(credentialsDir(), `${identity}.json`);
  const stored: StoredCredential = { authority, credential: Buffer.from(credential).toString('base64url') };
  await writeJson(file, stored, 0o600);
  return file;
}

/** The credential `identity` enrolled for, if any. */
export function loadCredential(
  identity: string,
): { authority: KnownAuthority; credential: Uint8Array } | undefined {
  const file = join(credentialsDir(), `${identity}.json`);
  if (!existsSync(file)) return undefined;
  const stored = readJson(file) as Partial<StoredCredential>;
  if (typeof stored.credential !== 'string') throw new CliError('FAILED', `${file} holds no credential`);
  return {
    authority: asKnownAuthority(stored.authority, file),
    credential: new Uint8Array(Buffer.from(stored.credential, 'base64url')),
  };
}
