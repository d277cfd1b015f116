import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { connectNats, type FederationBus } from '../../src/federation/nats-bus';
import { publishRaw, rawProtocolOf } from '../../src/transport/nats/raw-publish';
import { isSplitPayloadParser } from '../../src/transport/nats/split-payloads';
import { waitFor, within } from '../helpers/async';
import { natsServerAvailable, startNatsServer } from '../helpers/nats-server';
import { scaled } from '../helpers/slowdown';
import { Cleanup } from '../helpers/tcp-fixtures';

jest.setTimeout(scaled(30_000));

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const describeWithNats = natsServerAvailable() ? describe : describe.skip;

type NatsConnection = Awaited<ReturnType<typeof connect>>;

/** A plain client of the server at `url`, and what it receives on `subject`, in order. */
async function listen(url: string, subject: string): Promise<{ nc: NatsConnection; received: Buffer[] }> {
  const nc = await connect({ servers: [url] });
  cleanup.add(() => nc.close());
  const received: Buffer[] = [];
  nc.subscribe(subject, {
    callback: (_err: Error | null, msg: { data: Uint8Array }) => received.push(Buffer.from(msg.data)),
  });
  await nc.flush();
  return { nc, received };
}

async function busAt(url: string): Promise<FederationBus> {
  const bus = await connectNats({ servers: [url] });
  cleanup.add(() => bus.close());
  return bus;
}

describe('the NATS client internal that publishRaw writes through', () => {
  it('is the pinned minor version of @nats-io/nats-core', () => {
    // Hoisted beside the client, or nested under it.
    const modules = join(__dirname, '..', '..', 'node_modules', '@nats-io');
    const core = [join(modules, 'transport-node', 'node_modules', '@nats-io'), modules]
      .map((dir) => join(dir, 'nats-core', 'package.json'))
      .find(existsSync);
    const { version } = JSON.parse(readFileSync(core!, 'utf8')) as { version: string };
    // publishRaw depends on ProtocolHandler's sendCommand, flushPending, outbound and counters: re-check
    // src/transport/nats/raw-publish.ts and split-payloads.ts against the new client before moving this.
    expect(version).toMatch(/^3\.4\./);
  });
});

describeWithNats('NatsBus.publish', () => {
  it('finds the client protocol handler with the shape publishRaw needs', async () => {
    const nats = await startNatsServer(cleanup);
    const { nc } = await listen(nats.url, 'unused');
    const protocol = (nc as unknown as { protocol?: Record<string, unknown> }).protocol;
    // Spelled out so that a failure names what changed in the client.
    expect(typeof protocol?.sendCommand).toBe('function');
    expect(typeof protocol?.flushPending).toBe('function');
    expect(typeof (protocol?.outbound as { length?: unknown } | undefined)?.length).toBe('function');
    expect(typeof protocol?.noMorePublishing).toBe('boolean');
    expect(typeof protocol?.outBytes).toBe('number');
    expect(typeof protocol?.outMsgs).toBe('number');
    expect(protocol?.connected).toBe(true);
    expect(protocol?.infoReceived).toBe(true);
    const transport = protocol?.transport as { isClosed?: unknown; socket?: { cork?: unknown } } | undefined;
    expect(transport?.isClosed).toBe(false);
    expect(typeof transport?.socket?.cork).toBe('function');
    expect(rawProtocolOf(nc)).toBe(protocol);
    // What exactSplitPayloads relies on (src/transport/nats/split-payloads.ts).
    expect(isSplitPayloadParser(protocol?.parser)).toBe(true);
  });

  it('publishes a head with and without a body, byte for byte, through the raw path', async () => {
    const nats = await startNatsServer(cleanup);
    const { nc, received } = await listen(nats.url, 'fed.raw');
    const protocol = rawProtocolOf(nc)!;
    const head = randomBytes(70);
    const body = randomBytes(64 * 1024);
    const before = { msgs: protocol.outMsgs, bytes: protocol.outBytes };
    const queued = jest.spyOn(protocol, 'sendCommand');
    expect(publishRaw(protocol, 'fed.raw', head, undefined, nc.info!.max_payload)).toBe(true);
    expect(publishRaw(protocol, 'fed.raw', head, body, nc.info!.max_payload)).toBe(true);
    expect(publishRaw(protocol, 'fed.raw', head, new Uint8Array(0), nc.info!.max_payload)).toBe(true);
    // The small ones are queued as one buffer each; the large body went to the socket without a copy.
    expect(queued).toHaveBeenCalledTimes(2);
    expect(protocol.outMsgs - before.msgs).toBe(3);
    expect(protocol.outBytes - before.bytes).toBe(3 * head.length + body.length);
    await waitFor(() => received.length === 3, scaled(5_000));
    expect(received[0]!.equals(head)).toBe(true);
    expect(received[1]!.equals(Buffer.concat([head, body]))).toBe(true);
    expect(received[2]!.equals(head)).toBe(true);
  });

  it('leaves to the client what it does not write itself', async () => {
    const nats = await startNatsServer(cleanup);
    const { nc } = await listen(nats.url, 'unused');
    const protocol = rawProtocolOf(nc)!;
    const max = nc.info!.max_payload;
    expect(publishRaw(protocol, 'a subject with spaces', new Uint8Array(1), undefined, max)).toBe(false);
    expect(publishRaw(protocol, 'fed.raw', new Uint8Array(max), new Uint8Array(1), max)).toBe(false);
  });

  it('keeps the order of small and large messages on one subject', async () => {
    const nats = await startNatsServer(cleanup);
    const { received } = await listen(nats.url, 'fed.order');
    const bus = await busAt(nats.url);
    const sent: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const head = randomBytes(20 + i);
      // Small ones, large ones (written alone) and large ones queued behind small ones, in one turn.
      const body = i % 3 === 0 ? undefined : randomBytes(i % 3 === 1 ? 100 : 70 * 1024);
      bus.publish('fed.order', head, body);
      sent.push(body === undefined ? head : Buffer.concat([head, body]));
    }
    await bus.flush();
    await waitFor(() => received.length === sent.length, scaled(5_000));
    expect(received.map((m) => m.toString('hex'))).toEqual(sent.map((m) => m.toString('hex')));
  });

  it('throws the client errors for a bad subject, a payload too large and a closed connection', async () => {
    const nats = await startNatsServer(cleanup);
    const bus = await busAt(nats.url);
    expect(() => bus.publish('a subject with spaces', new Uint8Array(1))).toThrow();
    expect(() => bus.publish('fed.big', new Uint8Array(10), new Uint8Array(bus.maxPayload))).toThrow(
      /max_payload/,
    );
    await bus.close();
    expect(() => bus.publish('fed.closed', new Uint8Array(1), new Uint8Array(1))).toThrow();
  });
});

describeWithNats('NatsBus.subscribe, payloads that span socket reads', () => {
  /** Whether `data` is the whole of a buffer of its own (what ExactPayload hands out). */
  const ownsItsBuffer = (data: Uint8Array): boolean =>
    data.byteOffset === 0 && data.buffer.byteLength === data.length;

  async function sendAndReceive(bus: FederationBus, receiver: FederationBus, subject: string): Promise<void> {
    const received: Uint8Array[] = [];
    receiver.subscribe(subject, (data) => received.push(data));
    await receiver.flush();
    // Larger than one 64 KiB socket read, up to the server's max_payload (1 MiB), between small ones.
    const sizes = [70 * 1024, 10, 200 * 1024, 65 * 1024, 3, bus.maxPayload - 64, 100 * 1024 + 1];
    const sent = sizes.map((size) => randomBytes(size));
    for (const payload of sent) bus.publish(subject, payload.subarray(0, 64), payload.subarray(64));
    await waitFor(() => received.length === sent.length, scaled(10_000));
    received.forEach((data, i) => {
      expect(Buffer.from(data).equals(sent[i]!)).toBe(true);
      // Every one that cannot fit one read came in a buffer of exactly its size.
      if (data.length > 64 * 1024) expect(ownsItsBuffer(data)).toBe(true);
    });
  }

  it('hands each one over intact, in one buffer of its size, before and after a reconnect', async () => {
    const nats = await startNatsServer(cleanup);
    const bus = await busAt(nats.url);
    const receiver = await connectNats({ servers: [nats.url] });
    cleanup.add(() => receiver.close());
    await sendAndReceive(bus, receiver, 'fed.split');

    // A reconnect gives the client a new parser: it must get the same treatment.
    const reconnected = new Promise<void>((resolve) =>
      receiver.onEvent((event) => event.type === 'reconnect' && resolve()),
    );
    const nc = (receiver as unknown as { nc: { protocol: { transport: { socket: { destroy(): void } } } } })
      .nc;
    nc.protocol.transport.socket.destroy();
    await within(reconnected, scaled(10_000), 'the reconnect');
    await sendAndReceive(bus, receiver, 'fed.split.after');
  });
});
