// An authority: a node whose identity vouches, in signed credentials, for the attributes of its members
// (role=echoer, relay=bob). New nodes enroll with one-time tickets; enrollers (members with the `enroller`
// attribute, named by SEALROUTE_ENROLLERS=I…,I…) add and remove members and make tickets over a secure
// channel. Its identity lives in a FileVault ($SEALROUTE_HOME, default ./.sealroute/), its member table and
// unused tickets in $SEALROUTE_HOME/authority-members.json (each change on disk before it is answered), so a
// restarted or killed authority is the same authority with the same members.
// Run: npx ts-node examples/authority.ts [host:port] [--ticket attr=value,attr=value ...]
//   (default address: $SEALROUTE_AUTHORITY_ADDRESS, else 127.0.0.1:5000; port 0 picks a free port)
//   Each --ticket prints a one-time enrollment ticket granting those attributes (valid 1 hour).
import { join, resolve } from 'node:path';
import { AuthorityService, Context, DEFAULT_HOME, EnrollmentTicket, FileVault, Identity, Node } from '../src';
import { TcpTransport, TrustAnyIdentity, createSecureChannelListener, run } from '../src';

/** `role=echoer,relay=bob` as attributes. */
function attributesOf(spec: string): Record<string, string> {
  return Object.fromEntries(
    spec
      .split(',')
      .filter((pair) => pair !== '')
      .map((pair) => {
        const at = pair.indexOf('=');
        if (at <= 0) throw new Error(`--ticket takes attr=value pairs, got ${pair}`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
  );
}

@Node()
class Authority {
  async main(ctx: Context): Promise<void> {
    const args = process.argv.slice(2);
    const tickets: string[] = [];
    const positional: string[] = [];
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '--ticket') tickets.push(args[++i] ?? '');
      else positional.push(args[i]!);
    }
    const address = positional[0] ?? process.env.SEALROUTE_AUTHORITY_ADDRESS ?? '127.0.0.1:5000';
    const home = resolve(process.env.SEALROUTE_HOME ?? DEFAULT_HOME);
    const tcp = await TcpTransport.create(ctx);
    const identity = await Identity.getOrCreate(await FileVault.openInHome('authority'));
    const enrollers = (process.env.SEALROUTE_ENROLLERS ?? '').split(/[\s,]+/).filter((e) => e !== '');
    const authority = await AuthorityService.start(ctx, identity, 'authority', {
      statePath: join(home, 'authority-members.json'),
      enrollers,
      ...(process.env.SEALROUTE_CREDENTIAL_TTL_MS === undefined
        ? {}
        : { credentialTtlMs: Number(process.env.SEALROUTE_CREDENTIAL_TTL_MS) }),
    });
    // Anyone who proves an identity may connect: a newcomer must, to present its ticket. What each may ask
    // is up to the authority (members get credentials, enrollers manage members).
    await createSecureChannelListener(ctx, identity, 'authority_listener', { trustPolicy: TrustAnyIdentity });
    const bound = await tcp.listen(address);
    console.log(`Authority identifier: ${identity.identifier}`);
    console.log(`Authority public key: ${Buffer.from(identity.publicKey).toString('hex')}`);
    console.log(`Members: ${authority.stats().members}`);
    for (const spec of tickets) {
      const { code } = await authority.createTicket({ attributes: attributesOf(spec), ttlMs: 3_600_000 });
      console.log(`Ticket (${spec}): ${EnrollmentTicket.of(code, identity, bound).format()}`);
    }
    console.log(`Authority listening on ${bound}`);
  }
}

void run(Authority);
