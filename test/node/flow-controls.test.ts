import {
  Address,
  LocalMessage,
  MessageOrigin,
  ORIGIN_INFO,
  SECURE_CHANNEL_INFO,
  TrustIdentifier,
  fromSecureChannel,
  originOf,
  route,
  type OriginHop,
  type Routed,
  type SecureChannelInfo,
} from '../../src';
import { UNIQUE_RANDOM_BYTES, shortLivedRandomToken } from '../../src/core/address';
import { newNode, stopNodes } from '../helpers/nodes';

afterEach(stopNodes);

const connection = Address.local('tcp.c.one');
const other = Address.local('tcp.c.two');

function transportHop(producer: Address): OriginHop {
  return { kind: 'transport', producer, info: { connection: producer, remote: '203.0.113.7:9000' } };
}

function channelHop(producer: Address, identifier: string): OriginHop {
  const info: SecureChannelInfo = { identifier, identity: undefined, channel: producer };
  return { kind: 'channel', producer, info };
}

function arrived(origin: MessageOrigin, to = 'x'): LocalMessage {
  const last = origin.last;
  const extra = last.kind === 'channel' ? { [SECURE_CHANNEL_INFO]: last.info } : {};
  return new LocalMessage(route(to), route(last.producer), 'body', { [ORIGIN_INFO]: origin, ...extra });
}

describe('FlowControls', () => {
  it('lets a message from outside back into the producer it came from, and nowhere else unless allowed', () => {
    const flow = newNode().flowControls;
    const message = arrived(MessageOrigin.of(transportHop(connection)));
    expect(flow.mayEnter(message, connection)).toBe(true);
    expect(flow.mayEnter(message, other)).toBe(false);
    flow.allow(connection, other);
    expect(flow.mayEnter(message, other)).toBe(true);
    // One way only.
    expect(flow.mayEnter(arrived(MessageOrigin.of(transportHop(other))), connection)).toBe(false);
  });

  it('lets a message made on this node go anywhere', () => {
    const flow = newNode().flowControls;
    expect(flow.mayEnter(new LocalMessage(route('x'), route('y'), 'local'), other)).toBe(true);
  });

  it('judges by the last producer: a message out of a channel may not go back out on the connection', () => {
    const flow = newNode().flowControls;
    const channel = Address.local('sc.e.c');
    const message = arrived(MessageOrigin.of(transportHop(connection)).then(channelHop(channel, 'Ibob')));
    expect(flow.mayEnter(message, channel)).toBe(true);
    expect(flow.mayEnter(message, connection)).toBe(false);
  });

  it('counts refusals as access-denied dead letters', () => {
    const node = newNode();
    const message = arrived(MessageOrigin.of(transportHop(connection)));
    expect(node.flowControls.admit(message, other, 'test way out')).toBe(false);
    expect(node.flowControls.stats.refused).toBe(1);
    expect(node.deadLetters.countOf('access-denied')).toBe(1);
    expect(node.deadLetters.recent()[0]!.detail).toContain('test way out');
  });

  it('holds at most maxJoinsPerProducer joins per producer, dropping the oldest first', () => {
    const node = newNode({ maxJoinsPerProducer: 3 });
    const client = Address.local('tcp.c.client');
    const to = (i: number): Address => Address.local(`tcp.c.${i}`);
    for (let i = 0; i < 5; i++) node.flowControls.join(client, to(i));
    node.flowControls.join(client, to(2)); // used again: now the newest
    node.flowControls.join(client, to(5));
    expect(node.flowControls.stats).toMatchObject({ allowances: 3, evicted: 3 });
    expect([0, 1, 2, 3, 4, 5].map((i) => node.flowControls.allows(to(i), client))).toEqual([
      false,
      false,
      true,
      false,
      true,
      true,
    ]);
  });

  it('forgets allowances when either end stops', async () => {
    const node = newNode();
    await node.startWorker('a', { handleMessage: () => undefined });
    await node.startWorker('b', { handleMessage: () => undefined });
    node.flowControls.join(Address.local('a'), Address.local('b'));
    node.flowControls.allow(Address.local('b'), Address.local('c'));
    expect(node.flowControls.stats.allowances).toBe(2);
    expect(node.flowControls.allows(Address.local('b'), Address.local('a'))).toBe(true); // joined both ways
    await node.stopWorker('b');
    expect(node.flowControls.stats.allowances).toBe(0);
    expect(node.flowControls.allows(Address.local('a'), Address.local('b'))).toBe(false);
  });
});

describe('MessageOrigin', () => {
  it('keeps the path in order and survives forwarding inside the node', () => {
    const channel = Address.local('sc.e.c');
    const origin = MessageOrigin.of(transportHop(connection)).then(channelHop(channel, 'Ibob'));
    const forwarded = arrived(origin).withRoutes(route('elsewhere'), route('back'));
    expect(originOf(forwarded)).toBe(origin);
    expect(origin.hops.map((hop) => hop.kind)).toEqual(['transport', 'channel']);
    expect(origin.toString()).toBe('transport:0#tcp.c.one > channel:0#sc.e.c');
  });
});

describe('fromSecureChannel on the whole path', () => {
  const outer = Address.local('sc.e.outer');
  const inner = Address.local('sc.e.inner');
  const nested = arrived(
    MessageOrigin.of(transportHop(connection))
      .then(channelHop(outer, 'Imallory'))
      .then(channelHop(inner, 'Ibob')),
  );

  it('refuses a message if any channel it came out of is not accepted', () => {
    expect(fromSecureChannel(['Ibob']).check(nested)).toBe('identifier Imallory is not allowed');
    expect(fromSecureChannel(['Ibob', 'Imallory']).check(nested)).toBe(true);
    expect(fromSecureChannel().check(nested)).toBe(true);
  });

  it('judges only the innermost channel when told to', () => {
    expect(fromSecureChannel(['Ibob'], { path: 'last' }).check(nested)).toBe(true);
    expect(fromSecureChannel(['Imallory'], { path: 'last' }).check(nested)).toBe(
      'identifier Ibob is not allowed',
    );
  });

  it('refuses a message that came by a connection only', () => {
    const plain = arrived(MessageOrigin.of(transportHop(connection)));
    expect(fromSecureChannel().check(plain)).toBe('it did not arrive through a secure channel');
    expect(fromSecureChannel(TrustIdentifier('Ibob')).check(plain)).toBe(
      'it did not arrive through a secure channel',
    );
  });
});

describe('run-time addresses', () => {
  const RANDOM = /^sc\.r\.([A-Za-z0-9_-]{16})$/;

  it.each([
    ['Address.unique', () => Address.unique('sc.r.').value],
    ['reply slot tokens', () => `sc.r.${shortLivedRandomToken()}`],
  ])('%s carry 96 random bits, with no structure shared by consecutive ones', (_name, next) => {
    expect(UNIQUE_RANDOM_BYTES * 8).toBeGreaterThanOrEqual(96);
    const samples = Array.from({ length: 2_000 }, next);
    const bytes = samples.map((value) => Buffer.from(RANDOM.exec(value)![1]!, 'base64url'));
    expect(bytes.every((b) => b.length === UNIQUE_RANDOM_BYTES)).toBe(true);
    expect(new Set(samples).size).toBe(samples.length);
    // Each of the 96 bit positions is set in about half of the samples (a counter or a fixed salt would
    // leave most positions constant), and consecutive addresses agree on about half of their bits.
    for (let bit = 0; bit < UNIQUE_RANDOM_BYTES * 8; bit++) {
      const set = bytes.filter((b) => (b[bit >> 3]! >> (bit & 7)) & 1).length;
      expect(set).toBeGreaterThan(800);
      expect(set).toBeLessThan(1_200);
    }
    let same = 0;
    for (let i = 1; i < bytes.length; i++) {
      for (let j = 0; j < UNIQUE_RANDOM_BYTES; j++) {
        let x = bytes[i]![j]! ^ bytes[i - 1]![j]!;
        for (; x !== 0; x &= x - 1) same--;
        same += 8;
      }
    }
    const fraction = same / ((bytes.length - 1) * UNIQUE_RANDOM_BYTES * 8);
    expect(fraction).toBeGreaterThan(0.47);
    expect(fraction).toBeLessThan(0.53);
  });

  it('make reply slots unguessable: the right slot number with another random part is not a reply', async () => {
    const node = newNode();
    let slot: Address | undefined;
    await node.startWorker('w', {
      handleMessage: (ctx, message: Routed) => {
        slot = message.returnRoute.next;
        const value = slot!.value;
        const flipped = value.slice(0, -1) + (value.endsWith('A') ? 'B' : 'A');
        // A forged reply, decoded from a wire as a new Address object with a near-miss value.
        return ctx.send(Address.local(flipped), 'forged').then(() => ctx.send(message.returnRoute, 'real'));
      },
    });
    const reply = await node.context().request('w', 'ask', { timeout: 5_000 });
    expect(slot!.value).toMatch(/^~r\.[0-9a-z]+\.[A-Za-z0-9_-]{16}$/);
    expect(reply.body).toBe('real');
    expect(node.deadLetters.countOf('no-route')).toBe(1);
  });
});
