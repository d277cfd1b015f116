// A hub of a federation: several hubs that act as one, on NATS JetStream (docs/federation.md). Bob registers
// his name (bound to his identity) at any of them; Alice reaches him through any of them; a hub that dies
// costs Bob a reconnect to another, not his name.
// Run: npx ts-node examples/federated-hub.ts <hub name> <nats url[,url...]> [host:port]
//   e.g. npx ts-node examples/federated-hub.ts a nats://127.0.0.1:4222 127.0.0.1:4000
// Ctrl-C stops it gracefully.
import { Context, Node, TcpTransport, run, startFederatedHub } from '../src';

@Node()
class FederatedHubMain {
  async main(ctx: Context): Promise<void> {
    const [name, urls, address = '127.0.0.1:4000'] = process.argv.slice(2);
    if (name === undefined || urls === undefined) {
      console.error('usage: federated-hub.ts <hub name> <nats url[,url...]> [host:port]');
      process.exitCode = 2;
      return;
    }
    const tcp = await TcpTransport.create(ctx);
    await startFederatedHub(ctx, { nats: { servers: urls.split(',') }, hub: name });
    const bound = await tcp.listen(address);
    console.log(`Hub ${name} listening on ${bound}`);
  }
}

void run(FederatedHubMain);
