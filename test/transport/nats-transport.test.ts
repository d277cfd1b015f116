import { NATS, TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { fromSecureChannel } from '../../src/channel/access';
import { createSecureChannelListener } from '../../src/channel/create-secure-channel-listener';
import { Identity, TrustAnyIdentity } from '../../src/identity';
import { connectNatsLink, type NatsLink } from '../../src/transport/nats/nats-link';
import { NatsTransport } from '../../src/transport/nats/nats-transport';
import { InMemoryVault } from '../../src/vault';
import { startAlice } from '../helpers/alice-and-bob';
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
