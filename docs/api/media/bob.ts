// Bob runs inside a private network: he connects out to the hub, registers a forwarder there, and serves a
// secure channel listener and an echoer that only answers messages that came through a secure channel.
// Run: npx ts-node examples/bob.ts [hub host:port]   (default: $SEALROUTE_HUB, else 127.0.0.1:4000)
import { Context, Identity, InMemoryVault, Node, RemoteForwarder, Routed, TCP, TcpTransport } from '../src';
import { TrustEveryone, Worker, createSecureChannelListener, fromSecureChannel, route, run } from '../src';

@Worker({ address: 'echoer', access: fromSecureChannel() })
class Echoer implements Worker<string> {
  async handleMessage(ctx: Context, msg: Routed<string>): Promise<void> {
    console.log(`[✓] Address: ${msg.address}, Received: ${msg.body}`);
    await ctx.send(msg.returnRoute, msg.body);
  }
}

@Node()
class Bob {
  async main(ctx: Context): Promise<void> {
    const hub = process.argv[2] ?? process.env.SEALROUTE_HUB ?? '127.0.0.1:4000';
    await TcpTransport.create(ctx);
    const bob = await Identity.create(await InMemoryVault.create());
    await createSecureChannelListener(ctx, bob, 'listener', { trustPolicy: TrustEveryone });
    await ctx.startWorker(Echoer);

    const forwarder = await RemoteForwarder.create(ctx, route([TCP, hub]), 'listener');
    console.log(`[✓] RemoteForwarder was created on the node at: ${hub}`);
    console.log('Forwarding address for Bob is:');
    console.log(forwarder.forwardingAddress);
  }
}

void run(Bob);
