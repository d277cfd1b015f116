import { connect } from '@nats-io/transport-node';
import { NATS, TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { fromSecureChannel } from '../../src/channel/access';
import { createSecureChannelListener } from '../../src/channel/create-secure-channel-listener';
import { Identity, TrustAnyIdentity } from '../../src/identity';
import { connectNatsLink, type NatsLink } from '../../src/transport/nats/nats-link';
import { natsNodePermissions } from '../../src/transport/nats/nats-permissions';
import { NatsTransport } from '../../src/transport/nats/nats-transport';
import { InMemoryVault } from '../../src/vault';
import { startAlice } from '../helpers/alice-and-bob';
import { within } from '../helpers/async';
import { testSubject } from '../helpers/nats-kind';
import { natsServerAvailable, startNatsServer } from '../helpers/nats-server';
import { Cleanup, startEchoer, startTcpNode } from '../helpers/tcp-fixtures';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const describeWithNats = natsServerAvailable() ? describe : describe.skip;

/** A real link that records every subject subscribed to. */
async function countingLink(url: string): Promise<NatsLink & { subscribed: string[] }> {
  const inner = await connectNatsLink({ servers: [url] });
  cleanup.add(() => inner.close());
  const subscribed: string[] = [];
  return {
    subscribed,
    publish: (subject, data) => inner.publish(subject, data),
    subscribe: (subject, onData) => {
      subscribed.push(subject);
      return inner.subscribe(subject, onData);
    },
    flush: () => inner.flush(),
    get maxPayload() {
      return inner.maxPayload;
    },
    close: () => inner.close(),
  };
}

describeWithNats('NatsTransport', () => {
  it('subscribes to its own subject only, whether it listens, connects out or answers', async () => {
    const url = (await startNatsServer(cleanup)).url;
    const links = [await countingLink(url), await countingLink(url)];
    const [bob, alice] = await Promise.all(
      links.map(async (link) => {
        const { node, ctx } = await startTcpNode(cleanup, { listen: false });
        const nats = await NatsTransport.create(node, { nats: link, subject: testSubject() });
        return { node, ctx, nats };
      }),
    );
    await bob!.nats.listen();
    await startEchoer(bob!.node);
    const reply = await alice!.ctx.request(route([NATS, bob!.nats.subject], 'echoer'), 'hi', {
      timeout: 5_000,
      acceptsTransportReplies: true,
    });
    expect(reply.body).toBe('hi');
    expect(links[0]!.subscribed).toEqual([bob!.nats.subject]);
    expect(links[1]!.subscribed).toEqual([alice!.nats.subject]);
  });

  it('carries a secure channel from Alice over TCP to a hub, and on over NATS to Bob', async () => {
    const url = (await startNatsServer(cleanup)).url;
    // The hub: TCP toward Alice, NATS toward Bob; it relays what comes by TCP on to NATS (a hub's job).
    const hub = await startTcpNode(cleanup);
    await NatsTransport.create(hub.node, {
      nats: { servers: [url] },
      subject: testSubject(),
      relayTransportMessages: true,
    });
    // Bob: NATS only, at his subject, with a secure channel listener and an echoer behind it.
    const bob = await startTcpNode(cleanup, { listen: false });
    const bobNats = await NatsTransport.create(bob.node, {
      nats: { servers: [url] },
      subject: testSubject(),
    });
    await bobNats.listen();
    const identity = await Identity.create(await InMemoryVault.create());
    await createSecureChannelListener(bob.ctx, identity, 'listener', { trustPolicy: TrustAnyIdentity });
    await bob.node.startWorker(
      'echoer',
      { handleMessage: (ctx, message) => ctx.send(message.returnRoute, message.body) },
      { access: fromSecureChannel() },
    );

    const alice = await startAlice(cleanup);
    const channel = await alice.open(
      route([TCP, hub.address], [NATS, bobNats.subject], 'listener'),
      identity,
    );
    expect(await alice.echo(channel, 'through TCP and NATS')).toBe('through TCP and NATS');
    expect(await alice.echo(channel, 'again')).toBe('again');
  });

  it('runs with least-privilege NATS users: each node may subscribe to its own subject only', async () => {
    const [bobSubject, aliceSubject] = ['test.node.bob', 'test.node.alice'];
    const users = [
      { user: 'bob', password: 'secret-bob', permissions: natsNodePermissions(bobSubject) },
      { user: 'alice', password: 'secret-alice', permissions: natsNodePermissions(aliceSubject) },
    ];
    const { url } = await startNatsServer(cleanup, {
      config: `authorization { users: ${JSON.stringify(users)} }\n`,
    });
    const start = async (user: string, subject: string) => {
      const { node, ctx } = await startTcpNode(cleanup, { listen: false });
      const client = { user, pass: `secret-${user}` };
      const nats = await NatsTransport.create(node, { nats: { servers: [url], client }, subject });
      return { node, ctx, nats };
    };
    const bob = await start('bob', bobSubject);
    await bob.nats.listen();
    await startEchoer(bob.node);
    const alice = await start('alice', aliceSubject);
    const reply = await alice.ctx.request(route([NATS, bobSubject], 'echoer'), 'permitted', {
      timeout: 5_000,
      acceptsTransportReplies: true,
    });
    expect(reply.body).toBe('permitted');
    // Alice's credentials cannot read Bob's subject: the server refuses.
    const nc = await connect({ servers: url, user: 'alice', pass: 'secret-alice' });
    cleanup.add(() => nc.close());
    const refused = new Promise<Error>((resolve) =>
      nc.subscribe(bobSubject, { callback: (err: Error | null) => err && resolve(err) }),
    );
    expect((await within(refused, 5_000, 'the refusal')).message).toMatch(/permissions violation/i);
  });

  it('rejects a subject with wildcards, or none', async () => {
    const url = (await startNatsServer(cleanup)).url;
    const { node } = await startTcpNode(cleanup, { listen: false });
    for (const subject of ['sealroute.*', 'a b', '']) {
      await expect(NatsTransport.create(node, { nats: { servers: [url] }, subject })).rejects.toMatchObject({
        code: 'INVALID_ADDRESS',
      });
    }
  });
});
