// A message through three hop workers to an echoer, and the reply back through the same hops.
// Run: npx ts-node examples/02-routing-over-hops.ts
import { Context, Node, Routed, Worker, codecs, route, run } from '../src';

/**
 * Passes a message on to the rest of its onward route and puts its own address in front of the return
 * route, so that the reply comes back through it.
 */
@Worker()
class Hop implements Worker {
  async handleMessage(ctx: Context, msg: Routed): Promise<void> {
    const onwardRoute = msg.onwardRoute.stepForward();
    const returnRoute = msg.returnRoute.prepend(msg.address);
    console.log(`${msg.address.value} forwards to ${onwardRoute}`);
    await ctx.forward(msg.message.withRoutes(onwardRoute, returnRoute));
  }
}

@Worker({ address: 'echoer', message: codecs.string })
class Echoer implements Worker<string> {
  async handleMessage(ctx: Context, msg: Routed<string>): Promise<void> {
    console.log(`Echoer received: ${msg.body}`);
    await ctx.send(msg.returnRoute, msg.body);
  }
}

@Node()
class App {
  async main(ctx: Context): Promise<void> {
    for (const hop of ['h1', 'h2', 'h3']) await ctx.startWorker(Hop, { address: hop });
    await ctx.startWorker(Echoer);
    await ctx.send(route('h1', 'h2', 'h3', 'echoer'), 'hello over hops');
    const reply = await ctx.receive<string>();
    console.log(`App received: ${reply.body}`);
    console.log(`Its return route: ${reply.returnRoute}`);
    await ctx.stop();
  }
}

void run(App);
