// A worker that echoes what it receives, built by dependency injection, and a program that talks to it.
// Run: npx ts-node examples/01-worker.ts
import { Context, Node, Routed, Worker, codecs, injectable, run } from '../src';

/** A service the echoer gets through its constructor. */
@injectable()
class Shouter {
  shout(text: string): string {
    return text.toUpperCase();
  }
}

@Worker({ address: 'echoer', message: codecs.string })
class Echoer implements Worker<string> {
  constructor(private readonly shouter: Shouter) {}

  async handleMessage(ctx: Context, msg: Routed<string>): Promise<void> {
    console.log(`Echoer received: ${msg.body}`);
    await ctx.send(msg.returnRoute, this.shouter.shout(msg.body));
  }
}

@Node()
class App {
  async main(ctx: Context): Promise<void> {
    await ctx.startWorker(Echoer);
    const reply = await ctx.request<string>('echoer', 'hello, sealroute');
    console.log(`App received: ${reply.body}`);
    await ctx.stop();
  }
}

void run(App);
