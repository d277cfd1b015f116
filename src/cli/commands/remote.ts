/** Commands that talk to a running node over its control socket: `status`, `relay create`, `secure-channel create`. */
import { callControl } from '../control-socket';
import { defaultIdentity } from '../identities';
import type { NodeStatus } from '../node-host';
import { CliError, paint, step, table } from '../output';
import { socketPath } from '../paths';

interface Target {
  readonly node?: string;
  readonly socket?: string;
}

function socketOf(target: Target): string {
  if (target.node !== undefined && target.socket !== undefined) {
    throw new CliError('USAGE', '--node and --socket do not go together');
  }
  return target.socket ?? socketPath(target.node ?? defaultIdentity());
}

/** The status as a few tables for people. */
function render(status: NodeStatus): string {
  const out: string[] = [];
  const title = (text: string): void => void out.push('', paint(process.stdout, 'yellow', text));
  out.push(
    `${paint(process.stdout, 'green', status.name)}  ${status.identifier}  pid ${status.pid}  up ${status.uptimeSeconds} s  ${status.ready ? 'ready' : paint(process.stdout, 'red', 'not ready')}`,
  );
  if (status.tcpListeners.length > 0) out.push(`TCP listeners: ${status.tcpListeners.join(', ')}`);
  if (status.wsListeners.length > 0) out.push(`WebSocket listeners: ${status.wsListeners.join(', ')}`);
  title(`Connections (${status.connections.length})`);
  out.push(
    table(
      ['remote', 'direction', 'address'],
      status.connections.map((c) => [c.remote, c.outgoing ? 'out' : 'in', c.address]),
    ),
  );
  title(`Secure channels (${status.channels.length})`);
  out.push(
    table(
      ['peer', 'role', 'since', 'address'],
      status.channels.map((c) => [c.remoteIdentifier ?? '(anonymous)', c.role, c.since, c.address]),
    ),
  );
  if (status.listeners.length > 0) {
    title('Listeners');
    out.push(
      table(
        ['address', 'trust', 'channels'],
        status.listeners.map((l) => [l.address, l.trust, String(l.channels)]),
      ),
    );
  }
  title(`Forwarders (hosted ${status.forwarders.hosted.length}, relays ${status.forwarders.relays.length})`);
  out.push(
    table(
      ['kind', 'address', 'detail'],
      [
        ...status.forwarders.hosted.map((f) => [
          'hosted',
          f.address,
          f.owner === null ? (f.name ?? '') : `${f.name ?? ''} (${f.owner})`,
        ]),
        ...status.forwarders.relays.map((r) => [
          'relay',
          r.forwardingAddress ?? '-',
          `${r.hub} -> ${r.to}${r.registered ? '' : ' (lost)'}`,
        ]),
      ],
    ),
  );
  if (status.portals.length > 0) {
    title(`Portals (${status.portals.length})`);
    out.push(
      table(
        ['side', 'address', 'to', 'sessions', 'bytes sent', 'bytes received'],
        status.portals.map((p) => [
          p.side,
          p.address,
          p.to,
          `${p.sessionsActive} (${p.sessionsOpened} opened)`,
          String(p.bytesSent),
          String(p.bytesReceived),
        ]),
      ),
    );
  }
  title(`Dead letters (${status.deadLetters.total})`);
  out.push(
    table(
      ['reason', 'count'],
      Object.entries(status.deadLetters.byReason).map(([reason, n]) => [reason, String(n)]),
    ),
  );
  return out.join('\n');
}

/** `status [--node name | --socket path] [--json]`. */
export async function status(args: Target & { json?: boolean }): Promise<void> {
  const result = (await callControl(socketOf(args), { op: 'status' })) as NodeStatus;
  process.stdout.write(args.json === true ? `${JSON.stringify(result)}\n` : `${render(result)}\n`);
}

/** `relay create --hub host:port [--hub host:port ...] [--name n] [--to listener]` on a running node. */
export async function relayCreate(
  args: Target & { hub: string[]; name?: string; to: string },
): Promise<void> {
  const result = (await step(`registering at ${args.hub.join(' or ')}`, () =>
    callControl(socketOf(args), { op: 'relay.create', hubs: args.hub, name: args.name, to: args.to }),
  )) as { forwardingAddress: string };
  process.stdout.write(`${result.forwardingAddress}\n`);
}

/** `secure-channel create --to route`: from a running node, or a one-shot handshake test. */
export async function secureChannelCreate(
  args: Target & { to: string; identity?: string; json?: boolean; passphraseFile?: string },
): Promise<void> {
  let result: { address: string; remoteIdentifier: string | null; handshakeMs: number };
  if (args.node !== undefined || args.socket !== undefined) {
    result = (await step(`handshaking along ${args.to}`, () =>
      callControl(socketOf(args), { op: 'secure-channel.create', to: args.to }),
    )) as typeof result;
  } else {
    const { oneShot } = await import('./message');
    result = await oneShot(
      args,
      async ({ ctx, node, identity, channel }) => {
        const { openRoute } = await import('../open-route');
        const started = performance.now();
        const opened = await step(`handshaking along ${args.to}`, () =>
          openRoute(ctx, node, identity, args.to, channel),
        );
        if (opened.last === undefined)
          throw new CliError('USAGE', 'the route has no /secure or /relay segment');
        return {
          address: opened.last.address.toString(),
          remoteIdentifier: opened.last.remoteIdentifier ?? null,
          handshakeMs: Math.round(performance.now() - started),
        };
      },
      true,
    );
  }
  if (args.json === true) process.stdout.write(`${JSON.stringify(result)}\n`);
  else
    process.stdout.write(
      `${result.address} (peer ${result.remoteIdentifier ?? 'anonymous'}, ${result.handshakeMs} ms)\n`,
    );
}

const IDENTIFIER = /^I[0-9a-f]{40}$/;

/** `tcp-outlet create --to host:port [--from outlet] --allow I…[,I…]|any-identity` on a running node. */
export async function tcpOutletCreate(
  args: Target & { from: string; to: string; allow: string[] },
): Promise<void> {
  const allow = args.allow.flatMap((item) => item.split(',')).filter((item) => item !== '');
  let access: 'any-identity' | string[];
  if (allow.length === 1 && allow[0] === 'any-identity') access = 'any-identity';
  else {
    const bad = allow.find((item) => !IDENTIFIER.test(item));
    if (bad !== undefined || allow.length === 0) {
      throw new CliError(
        'USAGE',
        `--allow takes identifiers (I and 40 hex digits) or any-identity, got "${bad ?? ''}"`,
      );
    }
    access = allow;
  }
  const result = (await callControl(socketOf(args), {
    op: 'tcp-outlet.create',
    address: args.from,
    target: args.to,
    access,
  })) as { address: string };
  process.stdout.write(`${result.address}\n`);
}

/** `tcp-inlet create --from host:port --to <route>` on a running node; prints the bound address. */
export async function tcpInletCreate(args: Target & { from: string; to: string }): Promise<void> {
  const result = (await step(`opening the channel of ${args.to}`, () =>
    callControl(socketOf(args), { op: 'tcp-inlet.create', listen: args.from, to: args.to }),
  )) as { address: string };
  process.stdout.write(`${result.address}\n`);
}
