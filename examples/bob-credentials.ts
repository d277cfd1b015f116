// Bob with an authority: he joins it with an enrollment ticket (examples/authority.ts prints one), and from
// then on presents its credential (role=echoer, relay=bob): to the hub, which lets him register fwd.n.bob
// only with relay=bob, and to every Alice in the handshake. He admits only peers whose credential from the
// same authority says role=echo-client, and his echoer answers only them. The credential is renewed before
// it expires, over every open channel too. Started again with the same (now used) ticket, he is the same
// member: his identity lives in a FileVault ($SEALROUTE_HOME, default ./.sealroute/).
// Run: npx ts-node examples/bob-credentials.ts <ticket> [hub host:port]   (default: $SEALROUTE_HUB, else 127.0.0.1:4000)
import { Context, FileVault, ForwardingAddress, Identity, Node, RemoteForwarder, Routed, TCP } from '../src';
import { TcpTransport, TrustCredential, Worker, createSecureChannelListener, joinWithTicket } from '../src';
import { requireAttributes, route, run } from '../src';

@Worker({ address: 'echoer', access: requireAttributes({ role: 'echo-client' }) })
class Echoer implements Worker<string> {
  async handleMessage(ctx: Context, msg: Routed<string>): Promise<void> {
    console.log(`[✓] Address: ${msg.address}, Received: ${msg.body}`);
    await ctx.send(msg.returnRoute, msg.body);
  }
}

@Node()
class Bob {
  async main(ctx: Context): Promise<void> {
    const [ticket = '', hub = process.env.SEALROUTE_HUB ?? '127.0.0.1:4000'] = process.argv.slice(2);
    await TcpTransport.create(ctx);
    const bob = await Identity.getOrCreate(await FileVault.openInHome('bob'));
    const { credentials, authority } = await joinWithTicket(ctx, bob, ticket, { logger: ctx.logger });
    ctx.node.once('stopped', () => credentials.stop());
    console.log(`[✓] Bob is a member of authority ${authority.identifier}`);

    const trustPolicy = TrustCredential({ authority, attributes: { role: 'echo-client' } });
    await createSecureChannelListener(ctx, bob, 'listener', { trustPolicy, credentials });
    await ctx.startWorker(Echoer);

    const named = { name: 'bob', identity: bob, credential: credentials };
    const forwarder = await RemoteForwarder.create(ctx, route([TCP, hub]), 'listener', named);
    console.log(`[✓] RemoteForwarder was created on the node at: ${hub}`);
    ForwardingAddress.watch(forwarder, bob, (at) => console.log(`Forwarding address for Bob is:\n${at}`));
  }
}

void run(Bob);
