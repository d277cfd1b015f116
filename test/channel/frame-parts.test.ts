import { route } from '../../src/core/route';
import { ByteParts } from '../../src/core/byte-parts';
import { ForwardingService } from '../../src/services/forwarding-service';
import { StreamConnection } from '../../src/transport/stream-connection';
import { startAlice, startBob } from '../helpers/alice-and-bob';
import { within } from '../helpers/async';
import { Cleanup, startTcpNode } from '../helpers/tcp-fixtures';
import { TCP } from '../../src/core/address';
import { createSecureChannelListener } from '../../src/channel';
import { createSecureChannel } from '../../src/channel/create-secure-channel';
import { Identity, TrustAnyIdentity, TrustIdentifier } from '../../src/identity';
import { InMemoryVault } from '../../src/vault';
import { startRecordingEchoer } from '../helpers/alice-and-bob';

const cleanup = new Cleanup();
afterEach(async () => {
  jest.restoreAllMocks();
  await cleanup.run();
});

describe('A secure channel large frame', () => {
  it('leaves as its parts through TCP (never joined on the way) and arrives whole, through a hub', async () => {
    const hub = await startTcpNode(cleanup);
    await ForwardingService.start(hub.ctx);
    const bob = await startBob(cleanup, hub.address);
    const alice = await startAlice(cleanup);
    const channel = await alice.open(
      route([TCP, hub.address], bob.forwarder.forwardingAddress),
      bob.identity,
    );
    const original = ByteParts.prototype.join;
    const joinedAt: string[] = [];
    jest.spyOn(ByteParts.prototype, 'join').mockImplementation(function (this: ByteParts) {
      joinedAt.push(new Error().stack ?? '');
      return original.call(this);
    });
    // What stream connections were given to write: Alice's and Bob's sealed frames, and at the hub the
    // frames it received in two socket reads, as views of those reads (their first part is not a header).
    const written: unknown[] = [];
    const write = StreamConnection.prototype.handleMessage;
    jest.spyOn(StreamConnection.prototype, 'handleMessage').mockImplementation(function (
      this: StreamConnection,
      ctx,
      message,
    ) {
      written.push(message.body);
      return write.call(this, ctx, message);
    });
    // 64 KiB: two frames, the first of them sent as parts; 20,000 bytes: one frame sent as parts.
    const bodies = [65_536, 20_000].map((length, m) =>
      Uint8Array.from({ length }, (_, i) => (i * 13 + m) & 0xff),
    );
    for (const body of bodies) {
      const reply = await within(
        alice.ctx.request<Uint8Array>(route(channel, 'echoer'), body, { timeout: 5_000 }),
        10_000,
        'the echo',
      );
      expect(Buffer.from(reply.body).equals(body)).toBe(true);
    }
    expect(bob.received.map((received) => (received.body as Uint8Array).length)).toEqual([65_536, 20_000]);
    // Alice's and Bob's frames went straight into their TCP writes. The hub read each large frame (over 64
    // KiB with its routes) in two socket reads and wrote it on as views of them, never joined.
    const relayed = written.filter((body) => body instanceof ByteParts && body.parts[0]!.length > 1024);
    expect(relayed.length).toBeGreaterThanOrEqual(2);
    // A client reading into a slab may get a frame that spans two slabs as views too; its decryptor, a
    // worker, gets those joined (the one copy its parser used to make): at most one per large frame.
    expect(joinedAt.length).toBeLessThanOrEqual(4);
  });

  it('reaches a decryptor on the same node joined, whole', async () => {
    const node = await startTcpNode(cleanup, { listen: false });
    const bob = await Identity.create(await InMemoryVault.create());
    const alice = await Identity.create(await InMemoryVault.create());
    await createSecureChannelListener(node.ctx, bob, 'listener', { trustPolicy: TrustAnyIdentity });
    const received = await startRecordingEchoer(node.node);
    const channel = await createSecureChannel(node.ctx, alice, route('listener'), {
      trustPolicy: TrustIdentifier(bob.identifier),
    });
    const join = jest.spyOn(ByteParts.prototype, 'join');
    const body = Uint8Array.from({ length: 65_536 }, (_, i) => (i * 7) & 0xff);
    const reply = await within(
      node.ctx.request<Uint8Array>(route(channel, 'echoer'), body, { timeout: 5_000 }),
      10_000,
      'the echo',
    );
    expect(Buffer.from(reply.body).equals(body)).toBe(true);
    expect(Buffer.from(received[0]!.body as Uint8Array).equals(body)).toBe(true);
    // The decryptor is a worker: each large frame was joined for it (one each way).
    expect(join).toHaveBeenCalledTimes(2);
  });
});
