// Two identities, each in its own vault. Bob listens for secure channels; Alice opens one to him and sends a
// message through it to Bob's echoer, which only accepts messages that came through a secure channel. The
// echo comes back through the channel too, and each side learns who the other is from the handshake.
// Run: npx ts-node examples/03-secure-channel.ts
import {
  Context,
  Identity,
  InMemoryVault,
  Node,
  Routed,
  TrustIdentifier,
  Worker,
  codecs,
  createSecureChannel,
  createSecureChannelListener,
  fromSecureChannel,
  remoteIdentifierOf,
  route,
  run,
} from '../src';

@Worker({ address: 'echoer', message: codecs.string, access: fromSecureChannel() })
class Echoer implements Worker<string> {
  async handleMessage(ctx: Context, msg: Routed<string>): Promise<void> {
    console.log(`Echoer received "${msg.body}" from ${remoteIdentifierOf(msg)}`);
    await ctx.send(msg.returnRoute, msg.body);
  }
}

@Node()
class App {
  async main(ctx: Context): Promise<void> {
    const alice = await Identity.create(await InMemoryVault.create());
    const bob = await Identity.create(await InMemoryVault.create());
    console.log(`Alice is ${alice.identifier}`);
    console.log(`Bob is ${bob.identifier}`);

    // Bob's side: an echoer, and a listener that accepts channels from Alice only.
    await ctx.startWorker(Echoer);
    await createSecureChannelListener(ctx, bob, 'listener', {
      trustPolicy: TrustIdentifier(alice.identifier),
    });

    // Alice's side: a channel to Bob's listener (here a local route; a TCP or hub route works the same).
    const channel = await createSecureChannel(ctx, alice, route('listener'), {
      trustPolicy: TrustIdentifier(bob.identifier),
    });
    console.log(`Alice has a secure channel to ${channel.remoteIdentifier}`);

    const reply = await ctx.request<string>(route(channel, 'echoer'), 'hello through the channel');
    console.log(`Alice received "${reply.body}" from ${remoteIdentifierOf(reply)}`);
    await channel.close();
    await ctx.stop();
  }
}

void run(App);
