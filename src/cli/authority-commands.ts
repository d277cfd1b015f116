/** The definitions of `sealroute authority ...` and `sealroute enroll` (handlers load when they run). */
import type { Argv, CommandModule } from 'yargs';
import { action, secret } from './command-kit';

const load = async () => import('./commands/authority');

/** Options of the commands that talk to an authority as an identity of this directory. */
const asClient = (y: Argv) =>
  y
    .option('authority', {
      type: 'string',
      describe:
        'The authority: public key, identifier or name known here, or file (default: the only one known)',
    })
    .option('at', { type: 'string', describe: "The authority's host:port, if not known here" })
    .option('identity', {
      type: 'string',
      describe: 'The identity to ask as, an enroller (default: the default identity)',
    })
    .options(secret);

const attribute = {
  type: 'string',
  array: true,
  describe: 'An attribute the member gets, key=value (repeatable)',
} as const;

/** `sealroute authority <start|ticket|member>`. */
export function authorityCommands(y: Argv): Argv {
  return y
    .command(
      'start',
      'Start an authority node and keep it running (Ctrl-C stops it); it is recorded in the config directory',
      (c) =>
        c
          .option('tcp', {
            type: 'string',
            default: '127.0.0.1:5000',
            describe: 'TCP address to listen on (port 0: any free port)',
          })
          .option('name', {
            type: 'string',
            default: 'authority',
            describe: 'Node name (control socket) and identity',
          })
          .option('enroller', {
            type: 'string',
            array: true,
            describe: 'An identifier, or identity name here, made an enroller (repeatable)',
          })
          .option('credential-ttl', { type: 'number', describe: 'Seconds the credentials it issues last' })
          .option('state', { type: 'string', describe: 'The member table file' })
          .option('metrics', { type: 'string', describe: 'Serve Prometheus metrics at host:port' }),
      action(async () => (await import('./commands/start')).authorityStart),
    )
    .command('ticket', 'Enrollment tickets', (t) =>
      t
        .command(
          'create',
          'Make a one-time enrollment ticket (an enroller only); prints it',
          (c) =>
            asClient(c)
              .option('attribute', attribute)
              .option('ttl', { type: 'number', default: 600, describe: 'Seconds it may be used' })
              .option('usage', { type: 'number', default: 1, describe: 'How many identities may use it' }),
          action(async () => (await load()).ticketCreate),
        )
        .demandCommand(1, 'ticket needs a subcommand: create'),
    )
    .command('member', "The authority's members (enrollers only)", (m) =>
      m
        .command(
          'list',
          'List the members and their attributes',
          (c) => asClient(c).option('json', { type: 'boolean', describe: 'JSON output' }),
          action(async () => (await load()).memberList),
        )
        .command(
          'add <identifier>',
          'Add a member (or replace its attributes)',
          (c) =>
            asClient(c)
              .positional('identifier', { type: 'string', demandOption: true })
              .option('attribute', attribute),
          action(async () => (await load()).memberAdd),
        )
        .command(
          'remove <identifier>',
          'Remove a member: it gets no further credential',
          (c) => asClient(c).positional('identifier', { type: 'string', demandOption: true }),
          action(async () => (await load()).memberRemove),
        )
        .demandCommand(1, 'member needs a subcommand: list, add or remove'),
    )
    .demandCommand(1, 'authority needs a subcommand: start, ticket or member');
}

/** `sealroute enroll <ticket>`. */
export const enrollCommand: CommandModule<
  object,
  { ticket: string; identity?: string; passphraseFile?: string }
> = {
  command: 'enroll <ticket>',
  describe: "Enroll an identity with an authority's ticket; later commands present its credential",
  builder: (c) =>
    c
      .positional('ticket', { type: 'string', demandOption: true, describe: 'sealroute-ticket:…' })
      .option('identity', {
        type: 'string',
        describe: 'The identity to enroll (default: the default identity)',
      })
      .options(secret) as never,
  handler: action(async () => (await load()).enroll),
};
