/** Pieces every command definition shares (kept light: `sealroute --help` loads this file). */
import type { Argv } from 'yargs';
import { reportError } from './output';

/** Runs a command's handler: errors become one line on standard error and an exit code. */
export function action<A>(load: () => Promise<(args: A) => Promise<void>>): (args: A) => Promise<void> {
  return async (args: A) => {
    try {
      const handler = await load();
      await handler(args);
      // One-shot commands are done: leave without waiting for idle sockets or timers of the stopped node.
      process.exit();
    } catch (error) {
      reportError(error);
      process.exit();
    }
  };
}

/** The options naming a running node. */
export const nodeTarget = (y: Argv) =>
  y
    .option('node', {
      type: 'string',
      describe: 'The running node, by name (its socket in <config dir>/run/)',
    })
    .option('socket', { type: 'string', describe: 'The running node, by control socket path' });

/** How a vault is unlocked. */
export const secret = {
  'passphrase-file': { type: 'string', describe: 'A file whose first line unlocks the vault' },
} as const;
