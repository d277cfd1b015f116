// Alice with an authority: she joins it with her own enrollment ticket (role=echo-client), then opens a
// channel to Bob through the hub presenting that credential, and trusts whoever answers only if its
// credential from the same authority says role=echoer: any member the authority made an echoer, not one
// identifier. Then she sends each line she reads to Bob's echoer, as in examples/alice.ts.
// Run: npx ts-node examples/alice-credentials.ts <ticket> [hub host:port]   (default: $SEALROUTE_HUB, else 127.0.0.1:4000)
import readline from 'node:readline';
import { Context, FileVault, ForwardingAddress, Identity, Node, TCP, TcpTransport } from '../src';
import { TrustCredential, createSecureChannel, joinWithTicket, route, run } from '../src';

@Node()
class Alice {
  async main(ctx: Context): Promise<void> {
    const [ticket = '', hub = process.env.SEALROUTE_HUB ?? '127.0.0.1:4000'] = process.argv.slice(2);
    await TcpTransport.create(ctx);
    const alice = await Identity.getOrCreate(await FileVault.openInHome('alice'));
    const { credentials, authority } = await joinWithTicket(ctx, alice, ticket, { logger: ctx.logger });
    const input = readline.createInterface({ input: process.stdin });
    ctx.node.once('stopped', () => (input.close(), credentials.stop()));
    const lines = input[Symbol.asyncIterator]();

    process.stdout.write('Enter the forwarding address for Bob: ');
    const bob = ForwardingAddress.parse(String((await lines.next()).value ?? ''));
    const channel = await createSecureChannel(ctx, alice, route([TCP, hub], bob), {
      trustPolicy: TrustCredential({ authority, attributes: { role: 'echoer' } }),
      credentials,
    });
    console.log('[✓] End-to-end encrypted secure channel was established.');
    channel.once('lost', (error) => {
      // Also when Bob closes it because Alice's credential lapsed unrenewed (his trust policy needs it).
      console.error(`[✗] The channel to Bob was lost: ${error.code} (${channel.closeReason})`);
      process.exitCode = 1;
      input.close();
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
