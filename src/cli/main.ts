#!/usr/bin/env node
/**
 * The `sealroute` command. This file loads only the argument parser: every command imports what it needs
 * (libsodium, the node runtime) when it runs, so that `sealroute --help` answers at once.
 */
import yargs, { type Argv } from 'yargs';
import { authorityCommands, enrollCommand } from './authority-commands';
import { action, nodeTarget, secret } from './command-kit';
import { CliError, EXIT, reportError } from './output';

export function parser(argv: readonly string[]): Argv {
  return yargs(argv)
    .scriptName('sealroute')
    .usage('$0 <command>\n\nEnd-to-end encrypted routes through hubs and relays, from a shell.')
    .command('identity', 'Create and inspect identities (FileVaults under the config directory)', (y) =>
      y
        .command(
          'create [name]',
          'Create an identity (or print the existing one)',
          (c) =>
            c
              .positional('name', { type: 'string', describe: 'Default: the default identity' })
              .options(secret),
          action(async () => (await import('./commands/identity')).create),
        )
        .command(
          'show [name]',
          'Print an identity',
          (c) =>
            c
              .positional('name', { type: 'string' })
              .options(secret)
              .option('json', { type: 'boolean', describe: 'JSON output' }),
          action(async () => (await import('./commands/identity')).show),
        )
        .command(
          'list',
          'List identities',
          (c) => c.option('json', { type: 'boolean', describe: 'JSON output' }),
          action(async () => (await import('./commands/identity')).list),
        )
        .command(
          'default [name]',
          'Print, or with a name set, the default identity',
          (c) => c.positional('name', { type: 'string' }),
          action(async () => (await import('./commands/identity')).setDefault),
        )
        .demandCommand(1, 'identity needs a subcommand: create, show, list or default'),
    )
    .command('hub', 'Run a hub (a node with a forwarding service)', (y) =>
      y
        .command(
          'start',
          'Start a hub and keep it running (Ctrl-C stops it)',
          (c) =>
            c
              .option('tcp', {
                type: 'string',
                default: '127.0.0.1:4000',
                describe: 'TCP address to listen on (port 0: any free port)',
              })
              .option('ws', {
                type: 'string',
                array: true,
                describe: 'WebSocket addresses to listen on too (host:port, or host:port/path)',
              })
              .option('authority', {
                type: 'string',
                array: true,
                describe:
                  'Admit relays only by credential (relay=<name>) from this authority: public key, identifier or name known here, or file',
              })
              .option('state', {
                type: 'string',
                describe: 'A file keeping the forwarder table across restarts',
              })
              .option('name', {
                type: 'string',
                default: 'hub',
                describe: 'Node name (control socket) and identity; its name in a federation',
              })
              .option('nats', {
                type: 'string',
                array: true,
                describe:
                  'Join a federation of hubs on these NATS servers (nats://host:port; docs/federation.md)',
              })
              .option('nats-user', { type: 'string', describe: 'The NATS user of this hub' })
              .option('nats-password-file', {
                type: 'string',
                describe: "A file whose first line is the NATS user's password",
              })
              .option('replicas', {
                type: 'number',
                describe: "Replicas of the federation's bucket of names (3 in a 3-node NATS cluster)",
              })
              .option('metrics', { type: 'string', describe: 'Serve Prometheus metrics at host:port' }),
          action(async () => (await import('./commands/start')).hubStart),
        )
        .demandCommand(1, 'hub needs a subcommand: start'),
    )
    .command('node', 'Run a declarative node', (y) =>
      y
        .command(
          'start',
          'Start a node from a YAML file (or flags) and keep it running; SIGHUP reloads the file',
          (c) =>
            c
              .option('config', {
                type: 'string',
                describe: 'The node configuration (YAML; see docs/operations.md)',
              })
              .option('identity', { type: 'string', describe: 'Without --config: the identity to run as' })
              .option('name', { type: 'string', describe: 'Without --config: the node name' })
              .option('tcp', {
                type: 'string',
                array: true,
                describe: 'Without --config: TCP addresses to listen on',
              })
              .option('listener', {
                type: 'string',
                describe: 'Without --config: a secure channel listener address',
              })
              .option('echoer', {
                type: 'boolean',
                describe: 'Without --config: start an echoer behind the listener',
              })
              .option('relay', {
                type: 'string',
                array: true,
                describe:
                  'Without --config: register a relay at this hub (host:port); repeated, fail over among hubs of one federation (needs --relay-name)',
              })
              .option('relay-name', {
                type: 'string',
                describe: 'Without --config: the relay name (fwd.n.<name>)',
              })
              .option('metrics', { type: 'string', describe: 'Serve Prometheus metrics at host:port' })
              .options(secret),
          action(async () => (await import('./commands/start')).nodeStart),
        )
        .demandCommand(1, 'node needs a subcommand: start'),
    )
    .command('relay', 'Manage relays (forwarders at a hub) of a running node', (y) =>
      y
        .command(
          'create',
          'Register a relay at a hub for a running node; prints its forwarding address',
          (c) =>
            nodeTarget(c)
              .option('hub', {
                type: 'string',
                array: true,
                demandOption: true,
                describe:
                  "The hub's host:port; repeated, hubs of one federation to fail over among (needs --name)",
              })
              .option('name', { type: 'string', describe: 'A name bound to the identity (fwd.n.<name>)' })
              .option('to', {
                type: 'string',
                default: 'listener',
                describe: 'The local address it delivers to',
              }),
          action(async () => (await import('./commands/remote')).relayCreate),
        )
        .demandCommand(1, 'relay needs a subcommand: create'),
    )
    .command('tcp-outlet', 'TCP portal outlets: reach a TCP service through secure channels', (y) =>
      y
        .command(
          'create',
          'Start an outlet on a running node: channel peers it admits reach --to through it',
          (c) =>
            nodeTarget(c)
              .option('to', { type: 'string', demandOption: true, describe: 'The TCP service, host:port' })
              .option('from', {
                type: 'string',
                default: 'outlet',
                describe: 'The outlet address inlets reach',
              })
              .option('allow', {
                type: 'string',
                array: true,
                demandOption: true,
                describe: 'Who may open sessions: identifiers (I…), or any-identity',
              }),
          action(async () => (await import('./commands/remote')).tcpOutletCreate),
        )
        .demandCommand(1, 'tcp-outlet needs a subcommand: create'),
    )
    .command('tcp-inlet', 'TCP portal inlets: local TCP clients carried to an outlet', (y) =>
      y
        .command(
          'create',
          'Listen on a running node and carry each connection to the outlet at the end of --to',
          (c) =>
            nodeTarget(c)
              .option('from', {
                type: 'string',
                default: '127.0.0.1:0',
                describe: 'Where clients connect, host:port',
              })
              .option('to', {
                type: 'string',
                demandOption: true,
                describe: 'A route to the outlet: /tcp/h:p/relay/I…@fwd.n.bob/service/outlet',
              }),
          action(async () => (await import('./commands/remote')).tcpInletCreate),
        )
        .demandCommand(1, 'tcp-inlet needs a subcommand: create'),
    )
    .command('secure-channel', 'Open secure channels', (y) =>
      y
        .command(
          'create',
          'Open a secure channel from a running node (or, without one, just test the handshake)',
          (c) =>
            nodeTarget(c)
              .option('to', {
                type: 'string',
                demandOption: true,
                describe: 'A route: /tcp/h:p/relay/I…@fwd.n.bob',
              })
              .option('identity', { type: 'string', describe: 'Without a node: the identity to use' })
              .option('json', { type: 'boolean', describe: 'JSON output' })
              .options(secret),
          action(async () => (await import('./commands/remote')).secureChannelCreate),
        )
        .demandCommand(1, 'secure-channel needs a subcommand: create'),
    )
    .command('message', 'Send messages', (y) =>
      y
        .command(
          'send <route> <text>',
          'Send a text along a route from a one-shot node and print the reply',
          (c) =>
            c
              .positional('route', {
                type: 'string',
                demandOption: true,
                describe: '/tcp/h:p/relay/I…@fwd.n.bob/service/echoer',
              })
              .positional('text', { type: 'string', demandOption: true })
              .option('identity', {
                type: 'string',
                describe: 'The identity to send as (default: the default identity)',
              })
              .option('timeout', { type: 'number', default: 10, describe: 'Seconds to wait for the reply' })
              .options(secret),
          action(async () => (await import('./commands/message')).send),
        )
        .demandCommand(1, 'message needs a subcommand: send'),
    )
    .command('authority', 'Run an authority, make enrollment tickets, manage members', authorityCommands)
    .command(enrollCommand)
    .command(
      'status',
      'Show what a running node is doing (over its local control socket)',
      (y) => nodeTarget(y).option('json', { type: 'boolean', describe: 'JSON output for scripts' }),
      action(async () => (await import('./commands/remote')).status),
    )
    .completion(
      'completion',
      'Print a shell completion script (bash, zsh): sealroute completion >> ~/.bashrc',
    )
    .demandCommand(1, 'name a command (sealroute --help lists them)')
    .recommendCommands()
    .strict()
    .help()
    .alias('h', 'help')
    .version()
    .epilogue('Files: $SEALROUTE_CONFIG_DIR, else $XDG_CONFIG_HOME/sealroute, else ~/.config/sealroute.')
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .fail((message, error) => {
      if (error !== undefined && error !== null) throw error;
      reportError(new CliError('USAGE', `${message} (see sealroute --help)`));
      process.exit(EXIT.usage);
    });
}

if (require.main === module) {
  void parser(process.argv.slice(2)).parseAsync();
}
