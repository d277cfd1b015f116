// Bob exposes a TCP service that listens only inside his network (a database on 127.0.0.1:5432) through the
// hub, without opening a port: he connects out to the hub, registers a forwarder, serves a secure channel
// listener, and runs an outlet that carries each session Alice opens to that one service. The target is
// fixed here: nothing Alice sends can make Bob connect anywhere else. The hub only ever sees ciphertext.
// Run: npx ts-node examples/portal-outlet.ts [hub host:port] [target host:port]
//      (defaults: $SEALROUTE_HUB, else 127.0.0.1:4000; 127.0.0.1:5432)
// Who may open sessions: SEALROUTE_ALLOW=I…,I… (or @file), else any identity that proves itself.
import {
  Context,
  FileVault,
  ForwardingAddress,
  Identity,
  Node,
  RemoteForwarder,
  TCP,
  TcpTransport,
} from '../src';
import {
  TrustAnyIdentity,
  allowListFrom,
  createSecureChannelListener,
  createTcpOutlet,
  route,
  run,
} from '../src';

@Node()
class PortalOutlet {
  async main(ctx: Context): Promise<void> {
    const hub = process.argv[2] ?? process.env.SEALROUTE_HUB ?? '127.0.0.1:4000';
    const target = process.argv[3] ?? '127.0.0.1:5432';
    await TcpTransport.create(ctx);
    const bob = await Identity.getOrCreate(await FileVault.openInHome('bob-portal'));
    const allowed = allowListFrom(process.env.SEALROUTE_ALLOW);
    if (allowed === undefined)
      console.log('[!] Any identity may open sessions: set SEALROUTE_ALLOW to choose.');
    const access = allowed ?? TrustAnyIdentity;
    await createSecureChannelListener(ctx, bob, 'listener', { trustPolicy: access });
    // The outlet checks the channel's peer again, on every message: the listener admits, the outlet decides.
    const outlet = await createTcpOutlet(ctx, 'outlet', target, { access });
    outlet.on('sessionOpened', (session) => console.log(`[✓] Session from ${session.remoteIdentifier}`));
    outlet.on('sessionClosed', (session, error) =>
      console.log(
        `[✓] Session closed: ${session.bytesReceived} bytes in, ${session.bytesSent} out${error ? ` (${error.code})` : ''}`,
      ),
    );

    const named = { name: 'bob-portal', identity: bob };
    const forwarder = await RemoteForwarder.create(ctx, route([TCP, hub]), 'listener', named);
    console.log(`[✓] Outlet 'outlet' forwards sessions to ${target}`);
    console.log('Forwarding address for the portal is:');
    console.log(ForwardingAddress.of(forwarder, bob).format());
  }
}

void run(PortalOutlet);
