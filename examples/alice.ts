// Alice reaches Bob's secure channel listener through the hub, runs a Noise XX handshake that also proves
// both identities, then sends each line she reads to Bob's echoer through the channel. She trusts exactly
// the identity named in the forwarding address Bob printed: whatever else answers there (a hub running its
// own listener) is refused with SecureChannelError UNTRUSTED before she sends anything.
// Run: npx ts-node examples/alice.ts [hub host:port]   (default: $SEALROUTE_HUB, else 127.0.0.1:4000)
import readline from 'node:readline';
import { Context, FileVault, ForwardingAddress, Identity, Node, TCP, TcpTransport } from '../src';
import { createSecureChannel, route, run } from '../src';

@Node()
class Alice {
  async main(ctx: Context): Promise<void> {
    const hub = process.argv[2] ?? process.env.SEALROUTE_HUB ?? '127.0.0.1:4000';
    await TcpTransport.create(ctx);
    const alice = await Identity.getOrCreate(await FileVault.openInHome('alice'));
    const input = readline.createInterface({ input: process.stdin });
    ctx.node.once('stopped', () => input.close()); // a refused channel stops the node: let stdin go too
    const lines = input[Symbol.asyncIterator]();

    process.stdout.write('Enter the forwarding address for Bob: ');
    const bob = ForwardingAddress.parse(String((await lines.next()).value ?? ''));
    const channel = await createSecureChannel(ctx, alice, route([TCP, hub], bob), {
      trustPolicy: bob.trustPolicy,
    });
    console.log('[✓] End-to-end encrypted secure channel was established.');
    channel.once('lost', (error) => {
      console.error(`[✗] The channel to Bob was lost: ${error.code} (${channel.closeReason})`);
      process.exitCode = 1;
      input.close(); // end the prompt: Alice stops instead of waiting for a line she can no longer send
    });

    for (;;) {
      console.log("Type a message for Bob's echoer:");
      const line = await lines.next();
      if (line.done === true) break;
      const echo = await ctx.request<string>(route(channel, 'echoer'), line.value);
      console.log(`Alice received an echo: ${echo.body}`);
    }
    await ctx.stop();
  }
}

void run(Alice);
