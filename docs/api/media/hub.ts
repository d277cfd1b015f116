// A hub: a node that listens on TCP and runs a forwarding service, so that nodes which can only connect out
// (Bob behind a NAT) register a forwarder here and become reachable by others (Alice) through it.
// Run: npx ts-node examples/hub.ts [host:port]   (default: $SEALROUTE_HUB, else 127.0.0.1:4000; port 0 picks
// a free port). Ctrl-C stops it gracefully.
import { Context, ForwardingService, Node, TcpTransport, run } from '../src';

@Node()
class Hub {
  async main(ctx: Context): Promise<void> {
    const address = process.argv[2] ?? process.env.SEALROUTE_HUB ?? '127.0.0.1:4000';
    const tcp = await TcpTransport.create(ctx);
    // The service is there before the first client can connect.
    await ForwardingService.start(ctx, 'forwarding_service');
    const bound = await tcp.listen(address);
    console.log(`Hub listening on ${bound}`);
  }
}

void run(Hub);
