/**
 * The command's identities: one `FileVault` per name under `<config>/vaults/` (`<name>.vault`), unlocked by
 * `$SEALROUTE_PASSPHRASE`, a passphrase file, a prompt on a terminal, or else the key file beside it
 * (`<name>.key`, mode 0600; see the library's vault-home.ts for what that protects). The identifier is also
 * kept in `<name>.identifier` (public), so that `identity list` needs no secret.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileVault, Identity } from '../index';
import { CliError } from './output';
import { configDir, vaultDir } from './paths';

/** Identity names: the vault names the library accepts. */
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** How a command was told to unlock vaults. */
export interface SecretOptions {
  /** A file whose first line is the passphrase. */
  readonly passphraseFile?: string;
}

/** Checks an identity name, as a usage error. */
export function checkName(name: string): string {
  if (!NAME.test(name))
    throw new CliError('USAGE', `identity name "${name}" must be 1..64 of A-Z a-z 0-9 _ -`);
  return name;
}

/** Reads a passphrase from the terminal without echoing it. */
async function prompt(question: string): Promise<string> {
  const { createInterface } = await import('node:readline');
  const input = process.stdin;
  const rl = createInterface({ input, output: process.stderr, terminal: true });
  const writeOut = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput;
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (text: string) => {
    if (text.startsWith(question)) writeOut.call(rl, question);
  };
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

/** The passphrase to use, if any: the environment, a file, or (for a passphrase vault) a prompt on a terminal. */
async function passphraseFor(
  name: string,
  options: SecretOptions,
  creating: boolean,
): Promise<string | undefined> {
  const fromEnv = process.env.SEALROUTE_PASSPHRASE;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (options.passphraseFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.passphraseFile, 'utf8');
    } catch (cause) {
      throw new CliError('FAILED', `cannot read the passphrase file ${options.passphraseFile}`, { cause });
    }
    const line = text.split(/\r?\n/)[0] ?? '';
    if (line === '') throw new CliError('USAGE', `the passphrase file ${options.passphraseFile} is empty`);
    return line;
  }
  const dir = vaultDir();
  const vaultExists = existsSync(join(dir, `${name}.vault`));
  const keyExists = existsSync(join(dir, `${name}.key`));
  if (keyExists || (!vaultExists && !creating)) return undefined;
  if (process.stdin.isTTY !== true) {
    if (creating) return undefined; // a new vault unlocked by a key file
    throw new CliError(
      'FAILED',
      `identity "${name}" is protected by a passphrase: set SEALROUTE_PASSPHRASE or give --passphrase-file`,
    );
  }
  if (creating) {
    const first = await prompt(`Passphrase for "${name}" (empty: a key file beside the vault): `);
    if (first === '') return undefined;
    if ((await prompt('Again: ')) !== first) throw new CliError('USAGE', 'the passphrases differ');
    return first;
  }
  return prompt(`Passphrase for "${name}": `);
}

/** Opens (or, with `create`, creates) the vault of identity `name`. */
export async function openVault(name: string, options: SecretOptions, create: boolean): Promise<FileVault> {
  checkName(name);
  const dir = vaultDir();
  if (!create && !existsSync(join(dir, `${name}.vault`))) {
    throw new CliError(
      'FAILED',
      `no identity "${name}" in ${dir} (create it with: sealroute identity create ${name})`,
    );
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const passphrase = await passphraseFor(name, options, create);
  const { FileVault } = await import('../index');
  return FileVault.openInHome(name, {
    home: dir,
    ...(passphrase !== undefined ? { secret: { passphrase } } : {}),
  });
}

/** Loads (or with `create` makes) identity `name`, recording its identifier beside the vault. */
export async function loadIdentity(
  name: string,
  options: SecretOptions,
  create = false,
): Promise<{ identity: Identity; vault: FileVault; created: boolean }> {
  const vault = await openVault(name, options, create);
  try {
    const { Identity } = await import('../index');
    const created = (await vault.listKeys()).every((key) => key.type !== 'ed25519');
    const identity = await Identity.getOrCreate(vault);
    await writeFile(join(vaultDir(), `${name}.identifier`), `${identity.identifier}\n`, { mode: 0o644 });
    return { identity, vault, created };
  } catch (error) {
    await vault.close().catch(() => undefined);
    throw error;
  }
}

/** The identities in the config directory, with their identifiers (as recorded at creation). */
export function listIdentities(): { name: string; identifier: string | undefined }[] {
  const dir = vaultDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.vault'))
    .map((file) => file.slice(0, -'.vault'.length))
    .sort()
    .map((name) => {
      let identifier: string | undefined;
      try {
        identifier = readFileSync(join(dir, `${name}.identifier`), 'utf8').trim();
      } catch {
        identifier = undefined;
      }
      return { name, identifier };
    });
}

const defaultFile = (): string => join(configDir(), 'default-identity');

/** The default identity's name: the one set with `identity default`, else `default`. */
export function defaultIdentity(): string {
  try {
    const name = readFileSync(defaultFile(), 'utf8').trim();
    return name === '' ? 'default' : name;
  } catch {
    return 'default';
  }
}

/** Makes `name` the default identity. */
export async function setDefaultIdentity(name: string): Promise<void> {
  checkName(name);
  if (!existsSync(join(vaultDir(), `${name}.vault`))) {
    throw new CliError('FAILED', `no identity "${name}" (create it with: sealroute identity create ${name})`);
  }
  await mkdir(configDir(), { recursive: true, mode: 0o700 });
  await writeFile(defaultFile(), `${name}\n`, { mode: 0o600 });
}

/** Reads a recorded identifier without opening the vault. */
export async function recordedIdentifier(name: string): Promise<string | undefined> {
  try {
    return (await readFile(join(vaultDir(), `${name}.identifier`), 'utf8')).trim();
  } catch {
    return undefined;
  }
}
