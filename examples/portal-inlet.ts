// Alice opens a local TCP port that leads to the service behind Bob's outlet: she reaches Bob's secure
// channel listener through the hub, trusting exactly the identity named in the forwarding address Bob's
// outlet printed, and runs an inlet. Any unmodified client (psql, redis-cli, curl) connects to the local port;
// each connection is a session carried end-to-end encrypted through the hub to Bob's outlet.
// Run: npx ts-node examples/portal-inlet.ts [hub host:port] [local host:port]
//      (defaults: $SEALROUTE_HUB, else 127.0.0.1:4000; 127.0.0.1:15432), then type the forwarding address.
import readline from 'node:readline';
import { Context, FileVault, ForwardingAddress, Identity, Node, TCP, TcpTransport } from '../src';
import { createSecureChannel, createTcpInlet, route, run } from '../src';

@Node()
class PortalInlet {
  async main(ctx: Context): Promise<void> {
    const hub = process.argv[2] ?? process.env.SEALROUTE_HUB ?? '127.0.0.1:4000';
    const local = process.argv[3] ?? '127.0.0.1:15432';
    await TcpTransport.create(ctx);
    const alice = await Identity.getOrCreate(await FileVault.openInHome('alice-portal'));
    console.log(`Alice's identifier is: ${alice.identifier}`);

    const input = readline.createInterface({ input: process.stdin });
    process.stdout.write('Enter the forwarding address for the portal: ');
    const line = await new Promise<string>((resolve) => input.once('line', resolve));
    input.close();
    const bob = ForwardingAddress.parse(line);
    const channel = await createSecureChannel(ctx, alice, route([TCP, hub], bob), {
      trustPolicy: bob.trustPolicy,
    });
    console.log('[✓] End-to-end encrypted secure channel was established.');

    const inlet = await createTcpInlet(ctx, local, route(channel, 'outlet'));
    inlet.on('sessionClosed', (_session, error) => {
      if (error !== undefined) console.log(`[!] A session ended: ${error.code}`);
    });
    console.log(`[✓] Inlet listening on ${inlet.address}: point your client there.`);
    // A lost channel ends every session; the inlet goes with it, and so does this program.
    await channel.closed();
    console.log(`[!] The secure channel closed: ${channel.closeError?.code ?? 'closed'}`);
    await ctx.stop();
  }
}

void run(PortalInlet);
