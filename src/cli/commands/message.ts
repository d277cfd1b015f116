/** `sealroute message send <route> <text>`: a one-shot node, like `ockam message send`. */
import type { Context, Identity, NodeRuntime } from '../../index';
import { defaultIdentity, loadIdentity } from '../identities';
import { step } from '../output';

/** Runs `work` on a node that lives only for it (TCP transport, the given identity), then stops the node. */
export async function oneShot<T>(
  args: { identity?: string; passphraseFile?: string },
  work: (parts: { ctx: Context; node: NodeRuntime; identity: Identity }) => Promise<T>,
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
    return await work({ ctx, node, identity });
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
  const reply = await oneShot(args, async ({ ctx, node, identity }) => {
    const { openRoute } = await import('../node-host');
    const { route } = await openRoute(ctx, node, identity, args.route);
    const answer = await step(`waiting for the reply`, () =>
      ctx.request(route, args.text, { timeout: args.timeout * 1000 }),
    );
    return answer.body;
  });
  const text =
    typeof reply === 'string'
      ? reply
      : reply instanceof Uint8Array
        ? Buffer.from(reply).toString('utf8')
        : JSON.stringify(reply);
  process.stdout.write(`${text}\n`);
}
