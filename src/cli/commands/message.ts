/** `sealroute message send <route> <text>`: a one-shot node, like `ockam message send`. */
import type { Context, Identity, NodeRuntime, SecureChannelOptions } from '../../index';
import { defaultIdentity, loadIdentity } from '../identities';
import { step } from '../output';

/** What a one-shot node's secure channels present: the identity's enrolled credential, if it has one. */
export type ChannelCredentials = Omit<SecureChannelOptions, 'trustPolicy'>;

/**
 * Runs `work` on a node that lives only for it (TCP transport, the given identity), then stops the node.
 * With `present`, the identity's credential from `sealroute enroll` (if any) is loaded for its channels.
 */
export async function oneShot<T>(
  args: { identity?: string; passphraseFile?: string },
  work: (parts: {
    ctx: Context;
    node: NodeRuntime;
    identity: Identity;
    channel: ChannelCredentials;
  }) => Promise<T>,
  present = false,
): Promise<T> {
  const name = args.identity ?? defaultIdentity();
  const { identity, vault } = await step(`opening the vault of ${name}`, () =>
    loadIdentity(name, { passphraseFile: args.passphraseFile }, true),
  );
  const { createNode, TcpTransport, silentLogger } = await import('../../index');
  // Failures are reported once, on one line, by the command; the node's own log stays quiet unless asked.
  const { node } = createNode(process.env.SEALROUTE_LOG === undefined ? { logger: silentLogger } : {});
  try {
    const ctx = node.context('cli');
    await TcpTransport.create(ctx);
    const { enrolledCredentials } = await import('../node-credentials');
    const credentials = present ? await enrolledCredentials(ctx, identity, name) : undefined;
    try {
      return await work({ ctx, node, identity, channel: credentials === undefined ? {} : { credentials } });
    } finally {
      credentials?.stop();
    }
  } finally {
    await node.stop();
    await vault.close();
  }
}

/** Sends `text` along `route` and prints the reply's body. */
export async function send(args: {
  route: string;
  text: string;
  identity?: string;
  timeout: number;
  passphraseFile?: string;
}): Promise<void> {
  const reply = await oneShot(
    args,
    async ({ ctx, node, identity, channel }) => {
      const { openRoute } = await import('../open-route');
      const { route } = await openRoute(ctx, node, identity, args.route, channel);
      const answer = await step(`waiting for the reply`, () =>
        ctx.request(route, args.text, { timeout: args.timeout * 1000 }),
      );
      return answer.body;
    },
    true,
  );
  const text =
    typeof reply === 'string'
      ? reply
      : reply instanceof Uint8Array
        ? Buffer.from(reply).toString('utf8')
        : JSON.stringify(reply);
  process.stdout.write(`${text}\n`);
}
