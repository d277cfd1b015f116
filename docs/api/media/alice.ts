// Alice reaches Bob's secure channel listener through the hub, runs a Noise XX handshake that also proves
// both identities, then sends each line she reads to Bob's echoer through the channel.
// Run: npx ts-node examples/alice.ts [hub host:port]   (default: $SEALROUTE_HUB, else 127.0.0.1:4000)
import readline from 'node:readline';
import { Context, Identity, InMemoryVault, Node, TCP, TcpTransport, TrustEveryone } from '../src';
import { createSecureChannel, route, run } from '../src';

@Node()
class Alice {
  async main(ctx: Context): Promise<void> {
    const hub = process.argv[2] ?? process.env.SEALROUTE_HUB ?? '127.0.0.1:4000';
    await TcpTransport.create(ctx);
    const alice = await Identity.create(await InMemoryVault.create());
    const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

    process.stdout.write('Enter the forwarding address for Bob: ');
    const forwardingAddress = String((await lines.next()).value ?? '').trim();
    const channel = await createSecureChannel(ctx, alice, route([TCP, hub], forwardingAddress), {
      trustPolicy: TrustEveryone,
    });
    console.log('[✓] End-to-end encrypted secure channel was established.');

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
