import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Where the command keeps its files: `$SEALROUTE_CONFIG_DIR`, else `$XDG_CONFIG_HOME/sealroute`, else
 * `~/.config/sealroute`. Vaults live in `vaults/` under it, control sockets in `run/` (both mode 0700).
 */
export function configDir(): string {
  const explicit = process.env.SEALROUTE_CONFIG_DIR;
  if (explicit !== undefined && explicit !== '') return resolve(explicit);
  const xdg = process.env.XDG_CONFIG_HOME;
  return join(xdg !== undefined && xdg !== '' ? resolve(xdg) : join(homedir(), '.config'), 'sealroute');
}

/** The directory of the command's vaults (one per identity name). */
export function vaultDir(): string {
  return join(configDir(), 'vaults');
}

/** The directory of running nodes' control sockets. */
export function runDir(): string {
  return join(configDir(), 'run');
}

/** The control socket of the node named `name`. */
export function socketPath(name: string): string {
  return join(runDir(), `${name}.sock`);
}
