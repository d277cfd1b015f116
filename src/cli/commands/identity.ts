/** `sealroute identity create|show|list|default`. */
import { checkName, defaultIdentity, listIdentities, loadIdentity, setDefaultIdentity } from '../identities';
import { step, table } from '../output';
import { vaultDir } from '../paths';

interface NameArgs {
  readonly name?: string;
  readonly passphraseFile?: string;
  readonly json?: boolean;
}

/** `identity create [name]`: makes the identity (or finds it) and prints its identifier. */
export async function create(args: NameArgs): Promise<void> {
  const name = checkName(args.name ?? defaultIdentity());
  const { identity, vault, created } = await step(`opening the vault of ${name}`, () =>
    loadIdentity(name, { passphraseFile: args.passphraseFile }, true),
  );
  await vault.close();
  process.stderr.write(created ? `Created identity ${name}\n` : `Identity ${name} already exists\n`);
  process.stdout.write(`${identity.identifier}\n`);
}

/** `identity show [name]`. */
export async function show(args: NameArgs): Promise<void> {
  const name = checkName(args.name ?? defaultIdentity());
  const { identity, vault } = await step(`opening the vault of ${name}`, () =>
    loadIdentity(name, { passphraseFile: args.passphraseFile }, false),
  );
  await vault.close();
  const info = {
    name,
    identifier: identity.identifier,
    publicKey: Buffer.from(identity.publicKey).toString('hex'),
    vault: vault.path,
  };
  if (args.json === true) process.stdout.write(`${JSON.stringify(info)}\n`);
  else
    process.stdout.write(
      `${table(['name', 'identifier', 'vault'], [[info.name, info.identifier, info.vault]])}\n`,
    );
}

/** `identity list`: names and identifiers, without opening any vault. */
export async function list(args: NameArgs): Promise<void> {
  const chosen = defaultIdentity();
  const all = listIdentities().map((entry) => ({ ...entry, default: entry.name === chosen }));
  if (args.json === true) {
    process.stdout.write(`${JSON.stringify(all)}\n`);
    return;
  }
  if (all.length === 0) {
    process.stdout.write(`no identities in ${vaultDir()} (sealroute identity create <name>)\n`);
    return;
  }
  const rows = all.map((entry) => [entry.default ? '*' : '', entry.name, entry.identifier ?? '?']);
  process.stdout.write(`${table(['', 'name', 'identifier'], rows)}\n`);
}

/** `identity default [name]`: prints, or sets, the default identity. */
export async function setDefault(args: NameArgs): Promise<void> {
  if (args.name === undefined) {
    process.stdout.write(`${defaultIdentity()}\n`);
    return;
  }
  await setDefaultIdentity(args.name);
  process.stdout.write(`${args.name}\n`);
}
