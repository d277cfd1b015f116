// Bob runs inside a private network: he connects out to the hub, registers a forwarder there, and serves a
// secure channel listener and an echoer that only answers messages that came through a secure channel.
// His identity lives in a FileVault ($SEALROUTE_HOME, default ./.sealroute/): a restarted Bob is the same Bob,
// at the same forwarding address, which names that identity so that Alice can tell him from an impostor.
// Run: npx ts-node examples/bob.ts [hub host:port]   (default: $SEALROUTE_HUB, else 127.0.0.1:4000)
import { Context, FileVault, ForwardingAddress, Identity, Node, RemoteForwarder, Routed, TCP } from '../src';
import { TcpTransport, TrustAnyIdentity, Worker, allowListFrom, createSecureChannelListener } from '../src';
import { fromSecureChannel, route, run } from '../src';

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
    const bob = await Identity.getOrCreate(await FileVault.openInHome('bob'));
    // The echoer is a public service: any peer that proves an identity may open a channel. To admit only
    // some, list their identifiers: SEALROUTE_ALLOW=I…,I… (or SEALROUTE_ALLOW=@file, one or more a line).
    const trustPolicy = allowListFrom(process.env.SEALROUTE_ALLOW) ?? TrustAnyIdentity;
    await createSecureChannelListener(ctx, bob, 'listener', { trustPolicy });
    await ctx.startWorker(Echoer);

    // A name bound to Bob's identity: the hub gives fwd.n.bob back to him, and only him, after a restart.
    const named = { name: 'bob', identity: bob };
    const forwarder = await RemoteForwarder.create(ctx, route([TCP, hub]), 'listener', named);
    console.log(`[✓] RemoteForwarder was created on the node at: ${hub}`);
    // Printed again should a re-registration after a hub restart change it: Alice needs the new one.
    ForwardingAddress.watch(forwarder, bob, (at) => console.log(`Forwarding address for Bob is:\n${at}`));
  }
}

void run(Bob);
