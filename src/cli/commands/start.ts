/** `sealroute hub start` and `sealroute node start`: a declarative node that runs until a signal. */
import { resolve } from 'node:path';
import { loadNodeConfig, parseNodeConfig, type NodeConfig } from '../config';
import { NodeHost } from '../node-host';
import { CliError, describeError, paint } from '../output';

/** Prints a line for people (standard output: a script may read the forwarding address from it). */
const say = (line: string): void =>
  void process.stdout.write(`${paint(process.stdout, 'green', '✓')} ${line}\n`);

/** Runs `host` until SIGINT/SIGTERM; SIGHUP reloads `file` when there is one. */
async function runUntilSignal(host: NodeHost, file: string | undefined): Promise<void> {
  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(130);
    stopping = true;
    void host.stop().then(() => process.exit(process.exitCode ?? 0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', () => {
    if (file === undefined) {
      process.stderr.write('SIGHUP: no config file to reload\n');
      return;
    }
    try {
      const lines = host.reload(loadNodeConfig(file));
      process.stderr.write(`reloaded ${file}${lines.length === 0 ? ': nothing changed' : ''}\n`);
      for (const line of lines) process.stderr.write(`  ${line}\n`);
    } catch (error) {
      // A bad file leaves the running configuration as it was.
      process.stderr.write(`reload failed, configuration unchanged: ${describeError(error)}\n`);
    }
  });
  host.node.once('stopped', () => {
    if (!stopping) process.exit(process.exitCode ?? 1);
  });
  await new Promise<never>(() => undefined);
}

function withMetrics(config: Record<string, unknown>, metrics: string | undefined): Record<string, unknown> {
  return metrics === undefined ? config : { ...config, metrics: { listen: metrics } };
}

/** Checks a configuration made from flags with the same schema as a file (errors name the flag's field). */
function fromFlags(config: Record<string, unknown>): NodeConfig {
  // JSON is YAML: the flags go through the same parser and checks as a file.
  return parseNodeConfig(JSON.stringify(config), '<flags>');
}

/**
 * `hub start [--tcp host:port] [--ws host:port] [--authority ref] [--state file] [--metrics host:port]
 * [--nats url... [--nats-user u] [--nats-password-file f] [--replicas n]]`.
 */
export async function hubStart(args: {
  tcp: string;
  ws?: string[];
  authority?: string[];
  state?: string;
  name: string;
  metrics?: string;
  nats?: string[];
  natsUser?: string;
  natsPasswordFile?: string;
  replicas?: number;
}): Promise<void> {
  const config = fromFlags(
    withMetrics(
      {
        name: args.name,
        identity: args.name,
        tcp: { listen: [args.tcp] },
        ...(args.ws === undefined ? {} : { ws: { listen: args.ws } }),
        hub: {
          ...(args.state === undefined ? {} : { statePath: args.state }),
          authorities: args.authority ?? [],
          ...federationFlags(args),
        },
      },
      args.metrics,
    ),
  );
  const host = await NodeHost.start(config, () => undefined);
  process.stdout.write(`Hub listening on ${host.tcpListeners[0]}\n`);
  for (const ws of host.wsListeners) process.stdout.write(`Hub listening on WebSocket ${ws}\n`);
  if (args.nats !== undefined) {
    process.stdout.write(`Federated: hub ${args.name} of a federation on ${args.nats.join(', ')}\n`);
  }
  await runUntilSignal(host, undefined);
}

/**
 * The `hub.federation` section from `hub start`'s flags, if `--nats` is given (the node's name is its name in
 * the federation); the other NATS flags without it are a usage error.
 */
function federationFlags(args: {
  nats?: string[];
  natsUser?: string;
  natsPasswordFile?: string;
  replicas?: number;
}): Record<string, unknown> {
  if (args.nats === undefined) {
    if (args.natsUser !== undefined || args.natsPasswordFile !== undefined || args.replicas !== undefined)
      throw new CliError('USAGE', '--nats-user, --nats-password-file and --replicas need --nats');
    return {};
  }
  const federation = {
    nats: args.nats,
    ...(args.natsUser === undefined ? {} : { user: args.natsUser }),
    ...(args.natsPasswordFile === undefined ? {} : { passwordFile: args.natsPasswordFile }),
    ...(args.replicas === undefined ? {} : { replicas: args.replicas }),
  };
  return { federation };
}

/** `authority start [--tcp host:port] [--enroller I…|name ...] [--credential-ttl s] [--state file]`. */
export async function authorityStart(args: {
  tcp: string;
  name: string;
  enroller?: string[];
  credentialTtl?: number;
  state?: string;
  metrics?: string;
}): Promise<void> {
  const config = fromFlags(
    withMetrics(
      {
        name: args.name,
        identity: args.name,
        tcp: { listen: [args.tcp] },
        authority: {
          enrollers: args.enroller ?? [],
          ...(args.state === undefined ? {} : { statePath: args.state }),
          ...(args.credentialTtl === undefined ? {} : { credentialTtlSeconds: args.credentialTtl }),
        },
      },
      args.metrics,
    ),
  );
  const host = await NodeHost.start(config, () => undefined);
  process.stdout.write(`Authority identifier: ${host.identity.identifier}\n`);
  process.stdout.write(`Authority public key: ${Buffer.from(host.identity.publicKey).toString('hex')}\n`);
  process.stdout.write(`Authority listening on ${host.tcpListeners[0]}\n`);
  await runUntilSignal(host, undefined);
}

/** `node start --config node.yaml`, or a node from flags. */
export async function nodeStart(args: {
  config?: string;
  identity?: string;
  name?: string;
  tcp?: string[];
  listener?: string;
  echoer?: boolean;
  relay?: string[];
  relayName?: string;
  metrics?: string;
  passphraseFile?: string;
}): Promise<void> {
  let config: NodeConfig;
  if (args.config !== undefined) {
    const flags = ['identity', 'name', 'tcp', 'listener', 'echoer', 'relay', 'relayName'] as const;
    const given = flags.filter((flag) => args[flag] !== undefined);
    if (given.length > 0)
      throw new CliError('USAGE', `--config and --${given[0]} do not go together: put it in the file`);
    config = loadNodeConfig(args.config);
    if (args.metrics !== undefined) config = { ...config, metrics: { listen: args.metrics } };
    if (args.passphraseFile !== undefined) {
      config = { ...config, vault: { passphraseFile: resolve(args.passphraseFile) } };
    }
  } else {
    const listener =
      args.listener ?? (args.echoer === true || args.relay !== undefined ? 'listener' : undefined);
    config = fromFlags(
      withMetrics(
        {
          ...(args.identity !== undefined ? { identity: args.identity } : {}),
          ...(args.name !== undefined ? { name: args.name } : {}),
          ...(args.passphraseFile !== undefined ? { vault: { passphraseFile: args.passphraseFile } } : {}),
          ...(args.tcp !== undefined ? { tcp: { listen: args.tcp } } : {}),
          secureChannelListeners: listener === undefined ? [] : [{ address: listener }],
          workers: args.echoer === true ? [{ address: 'echoer', builtin: 'echoer' }] : [],
          relays:
            args.relay === undefined
              ? []
              : [
                  {
                    ...(args.relay.length === 1 ? { hub: args.relay[0] } : { hubs: args.relay }),
                    to: listener,
                    ...(args.relayName !== undefined ? { name: args.relayName } : {}),
                  },
                ],
        },
        args.metrics,
      ),
    );
  }
  const host = await NodeHost.start(config, say);
  await runUntilSignal(host, args.config);
}
