// A hub: a node that listens on TCP and runs a forwarding service, so that nodes which can only connect out
// (Bob behind a NAT) register a forwarder here and become reachable by others (Alice) through it. The hub
// relays ciphertext; it cannot read or impersonate Bob to an Alice who checks his identifier (see README).
// Run: npx ts-node examples/hub.ts [host:port]   (default: $SEALROUTE_HUB, else 127.0.0.1:4000; port 0 picks
// a free port). With SEALROUTE_HUB_STATE=<file>, the forwarder table (names bound to identities) survives a
// restart of the hub. With SEALROUTE_AUTHORITY=<authority public key, 64 hex digits> (see
// examples/authority.ts), it admits a forwarder only for a name bound to an identity whose credential from
// that authority gives relay=<name> (or relay=*); without it, anyone may register. Ctrl-C stops it gracefully.
import { Context, ForwardingService, InMemoryVault, Node, TcpTransport, TrustedAuthorities } from '../src';
import { relayAdmission, run } from '../src';

@Node()
class Hub {
  async main(ctx: Context): Promise<void> {
    const address = process.argv[2] ?? process.env.SEALROUTE_HUB ?? '127.0.0.1:4000';
    const tcp = await TcpTransport.create(ctx);
    // The service is there before the first client can connect.
    const authority = process.env.SEALROUTE_AUTHORITY;
    const admit =
      authority === undefined || authority === ''
        ? undefined
        : relayAdmission(TrustedAuthorities.of(await InMemoryVault.create(), [authority]));
    await ForwardingService.create(ctx, 'forwarding_service', {
      statePath: process.env.SEALROUTE_HUB_STATE,
      admit,
    });
    const bound = await tcp.listen(address);
    console.log(`Hub listening on ${bound}`);
  }
}

void run(Hub);
