import net from 'node:net';
import { TCP, type Address } from '../../src/core/address';
import { LocalMessage } from '../../src/core/message';
import { route } from '../../src/core/route';
import { fromSecureChannel, remoteIdentifierOf } from '../../src/channel/access';
import { createSecureChannel } from '../../src/channel/create-secure-channel';
import { createSecureChannelListener } from '../../src/channel';
import type { SecureChannel } from '../../src/channel/secure-channel';
import { encodeHello } from '../../src/channel/frames';
import { Identity, TrustEveryone, TrustIdentifier } from '../../src/identity';
import type { DeadLetter } from '../../src/node/dead-letters';
import { ForwardingService } from '../../src/services/forwarding-service';
import { RemoteForwarder } from '../../src/services/remote-forwarder';
import { InMemoryVault } from '../../src/vault';
import { nextListenerEvent, startAlice, startBob, type Alice, type Bob } from '../helpers/alice-and-bob';
import { within } from '../helpers/async';
import { Cleanup, startEchoer, startTcpNode, type TcpTestNode } from '../helpers/tcp-fixtures';

// Secure by default, tried as an attacker would, over real sockets: a hub client cannot make the hub, Bob
// (through his forwarder) or Alice (through the connection a reply route names) open a TCP connection to a
// host:port of its choosing, nor through a secure channel; and a peer with a channel to Bob cannot launder a
// message through Bob's channel to Carol. Each attempt is refused, counted and logged where it is refused,
// the "internal target" never sees a connection, and Alice's channel to Bob works throughout.

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A TCP server on 127.0.0.1 that stands for a host inside Bob's (or the hub's) network. */
interface Target {
  readonly address: string;
  /** Connections it accepted. */
  readonly accepted: () => number;
}

/** An internal target; with `tarpit`, it accepts and never answers (a connect to it hangs until timeout). */
async function startTarget(): Promise<Target> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  cleanup.add(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, accepted: () => accepted };
}

interface World {
  readonly hub: TcpTestNode;
  readonly bob: Bob;
  readonly alice: Alice;
  readonly channel: SecureChannel;
  /** A hub client with no special rights. */
  readonly mallory: TcpTestNode;
  readonly target: Target;
}

async function world(): Promise<World> {
  const hub = await startTcpNode(cleanup);
  await ForwardingService.create(hub.ctx, 'forwarding_service');
  const bob = await startBob(cleanup, hub.address);
  const alice = await startAlice(cleanup);
  const channel = await alice.open(route([TCP, hub.address], bob.forwarder.forwardingAddress), bob.identity);
  expect(await alice.echo(channel, 'before')).toBe('before');
  const mallory = await startTcpNode(cleanup, { listen: false });
  return { hub, bob, alice, channel, mallory, target: await startTarget() };
}

/** The next `access-denied` dead letter of `node`, within 5 s. */
function refusal(node: TcpTestNode): Promise<DeadLetter> {
  const next = new Promise<DeadLetter>((resolve) => {
    const on = (letter: DeadLetter): void => {
      if (letter.reason !== 'access-denied') return;
      node.node.deadLetters.off('deadLetter', on);
      resolve(letter);
    };
    node.node.deadLetters.on('deadLetter', on);
  });
  const bounded = within(next, 5_000, 'an access-denied dead letter');
  bounded.catch(() => undefined);
  return bounded;
}

/** The refusal was logged as a dead letter at warn level. */
function logged(node: TcpTestNode, letter: DeadLetter): boolean {
  return node.logger.at('warn').some((entry) => entry.msg === `dead letter: ${letter.detail}`);
}

/** After an attack: the target saw nothing, no node holds a connection to it, Alice and Bob still talk. */
async function unharmed(w: World, text: string): Promise<void> {
  expect(await w.alice.echo(w.channel, text)).toBe(text);
  expect(w.bob.received.map((r) => r.from)).toEqual(w.bob.received.map(() => w.alice.identity.identifier));
  expect(w.target.accepted()).toBe(0);
  for (const node of [w.hub, w.bob, w.alice, w.mallory]) {
    expect(node.tcp.connection(w.target.address)).toBeUndefined();
  }
}

/**
 * Mallory's view of Bob's connection at the hub: she sends a HELLO of an unknown protocol through Bob's
 * forwarder; Bob's listener refuses it along her return route, whose second hop is then Bob's connection.
 */
async function bobsHubConnection(w: World): Promise<Address> {
  const hello = encodeHello('Noise_ZZ_25519_ChaChaPoly_SHA256', new Uint8Array(32));
  await w.mallory.ctx.send(route([TCP, w.hub.address], w.bob.forwarder.forwardingAddress), hello);
  const refused = await w.mallory.ctx.receive({ timeout: 5_000 });
  return refused.returnRoute.at(1)!;
}

describe('no pivot: nothing from outside is relayed to a TCP hop unless asked', () => {
  it('(a) a hub client cannot make the hub connect to a host:port of its choosing', async () => {
    const w = await world();
    const refused = refusal(w.hub);
    await w.mallory.ctx.send(route([TCP, w.hub.address], [TCP, w.target.address], 'ssh'), 'GET /');
    const letter = await refused;
    expect(letter.detail).toContain('does not relay messages from outside');
    expect(logged(w.hub, letter)).toBe(true);
    expect(w.hub.node.flowControls.stats.refused).toBe(1);
    await unharmed(w, 'during (a)');
  });

  it('(b) nor Bob, through his forwarder, whatever route follows it', async () => {
    const w = await world();
    // Straight through the forwarder: Bob's RemoteForwarder delivers only to its listener.
    let refused = refusal(w.bob);
    const viaHub = route([TCP, w.hub.address], w.bob.forwarder.forwardingAddress);
    await w.mallory.ctx.send(route(viaHub, [TCP, w.target.address], 'x'), 'through the forwarder');
    let letter = await refused;
    expect(letter.detail).toContain('delivers only to 0#listener');
    expect(logged(w.bob, letter)).toBe(true);
    // Naming a listed local worker first does not help either.
    refused = refusal(w.bob);
    await w.mallory.ctx.send(route(viaHub, 'listener', [TCP, w.target.address]), 'listed, then out');
    await refused;

    // Through Bob's connection at the hub, which the forwarder lets Mallory reach: Bob's node refuses.
    const bobAtHub = await bobsHubConnection(w);
    refused = refusal(w.bob);
    await w.mallory.ctx.send(route([TCP, w.hub.address], bobAtHub, [TCP, w.target.address], 'x'), 'direct');
    letter = await refused;
    expect(letter.detail).toContain('relayTransportMessages is off');
    expect(w.bob.tcp.connections().filter((c) => c.outgoing)).toHaveLength(1); // the hub only
    await unharmed(w, 'during (b)');
  });

  it('(c) nor Alice, through the connection her messages come back by, nor her replies', async () => {
    const w = await world();
    // Mallory runs a forwarder of her own, and Alice sends to it: Mallory learns Alice's connection at the hub.
    const inbox = w.mallory.node.context('inbox', { acceptsTransportMessages: true });
    const mine = await RemoteForwarder.create(w.mallory.ctx, route([TCP, w.hub.address]), 'inbox');
    cleanup.add(() => mine.stop());
    await startEchoer(w.alice.node, 'alice-echo'); // Alice answers anything, along its return route
    await w.alice.ctx.send(route([TCP, w.hub.address], mine.forwardingAddress), 'hello Mallory');
    const fromAlice = await inbox.receive({ timeout: 5_000 });
    const aliceAtHub = fromAlice.returnRoute.at(1)!;
    expect(aliceAtHub.value).toMatch(/^tcp\.c\./);

    // Through that connection, a TCP hop at Alice: refused by Alice's node.
    let refused = refusal(w.alice);
    await w.mallory.ctx.send(
      route([TCP, w.hub.address], aliceAtHub, [TCP, w.target.address], 'x'),
      'connect for me',
    );
    expect((await refused).detail).toContain('relayTransportMessages is off');

    // A reply route that names the target: Alice's echo can only go back on the connection the request came
    // on (a connection puts itself first in the return route), and from there the way it came, each hop
    // prepended in turn: to the hub, then to Mallory's own connection. Nobody on the way connects out; the
    // TCP hop ends up at Mallory's node, which refuses it as from outside.
    refused = refusal(w.mallory);
    await w.mallory.node.deliver(
      new LocalMessage(
        route([TCP, w.hub.address], aliceAtHub, 'alice-echo'),
        route([TCP, w.target.address], 'x'),
        'reply to the target',
      ),
    );
    const reflected = await refused;
    expect(reflected.detail).toContain('does not relay messages from outside');
    expect(reflected.message.body).toBe('reply to the target');

    // A hub client whom Alice never wrote to cannot reach her connection at all.
    const eve = await startTcpNode(cleanup, { listen: false });
    refused = refusal(w.hub);
    await eve.ctx.send(route([TCP, w.hub.address], aliceAtHub, 'alice-echo'), 'hi Alice');
    expect((await refused).detail).toContain(`connection to`);
    await unharmed(w, 'during (c)');
  });

  it('(d) nor Bob through a secure channel, with relaying off', async () => {
    const w = await world();
    expect(w.bob.tcp.options.relayTransportMessages).toBe(false);
    const mallory = await Identity.create(await InMemoryVault.create());
    const tunnel = await createSecureChannel(
      w.mallory.ctx,
      mallory,
      route([TCP, w.hub.address], w.bob.forwarder.forwardingAddress),
      { trustPolicy: TrustEveryone, timeout: 5_000 },
    );
    const refused = refusal(w.bob);
    await w.mallory.ctx.send(route(tunnel, [TCP, w.target.address], 'x'), 'decrypted, then out');
    const letter = await refused;
    expect(letter.detail).toContain('relayTransportMessages is off');
    expect(letter.detail).toMatch(/transport:\S+ > channel:/); // the whole path it came by
    await unharmed(w, 'during (d)');
  });

  it('(f) through a forwarder, Bob cannot be made to open connections to a tarpit', async () => {
    const w = await world();
    const tarpits = await Promise.all([startTarget(), startTarget(), startTarget()]);
    const viaHub = route([TCP, w.hub.address], w.bob.forwarder.forwardingAddress);
    const bobAtHub = await bobsHubConnection(w);
    const before = w.bob.node.deadLetters.countOf('access-denied');
    const attempts = 60;
    for (let i = 0; i < attempts; i++) {
      const tarpit = tarpits[i % tarpits.length]!.address;
      const hop = i % 2 === 0 ? viaHub : route([TCP, w.hub.address], bobAtHub);
      await w.mallory.ctx.send(route(hop, [TCP, tarpit], 'x'), `slot ${i}`);
    }
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (w.bob.node.deadLetters.countOf('access-denied') - before >= attempts) resolve();
          else setTimeout(check, 10);
        };
        check();
      }),
      10_000,
      'every tarpit attempt refused',
    );
    expect(w.bob.tcp.connections().filter((c) => c.outgoing)).toHaveLength(1);
    expect(tarpits.map((t) => t.accepted())).toEqual([0, 0, 0]);
    await unharmed(w, 'during (f)');
  });
});

describe('no identity laundering', () => {
  it('(e) Mallory cannot send through Bob’s channel to Carol as Bob; Bob himself can', async () => {
    const w = await world();
    // Carol admits only Bob, at her listener and at her worker.
    const carol = await startTcpNode(cleanup);
    const carolIdentity = await Identity.create(await InMemoryVault.create());
    await createSecureChannelListener(carol.ctx, carolIdentity, 'listener', {
      trustPolicy: TrustIdentifier(w.bob.identity.identifier),
    });
    const atCarol: { body: unknown; from: string | undefined }[] = [];
    await carol.node.startWorker(
      'vault',
      { handleMessage: (_ctx, m) => void atCarol.push({ body: m.body, from: remoteIdentifierOf(m) }) },
      { access: fromSecureChannel([w.bob.identity.identifier]) },
    );
    const bobToCarol = await createSecureChannel(
      w.bob.ctx,
      w.bob.identity,
      route([TCP, carol.address], 'listener'),
      { trustPolicy: TrustIdentifier(carolIdentity.identifier), timeout: 5_000 },
    );

    // Mallory has her own channel to Bob, and (worst case) knows the address of Bob's channel to Carol.
    const mallory = await Identity.create(await InMemoryVault.create());
    const opened = nextListenerEvent(w.bob.listener, 'channelOpened');
    const malloryToBob = await createSecureChannel(
      w.mallory.ctx,
      mallory,
      route([TCP, w.hub.address], w.bob.forwarder.forwardingAddress),
      { trustPolicy: TrustEveryone, timeout: 5_000 },
    );
    const bobFromMallory = await opened;
    const refused = refusal(w.bob);
    await w.mallory.ctx.send(route(malloryToBob, bobToCarol.address, 'vault'), 'from Bob, honestly');
    const letter = await refused;
    expect(letter.detail).toContain(`secure channel ${bobToCarol.address.key} does not carry on`);
    expect(letter.detail).toContain(bobFromMallory.address.key);
    expect(logged(w.bob, letter)).toBe(true);

    // Bob's own messages go through, and Carol sees them from Bob.
    await w.bob.ctx.send(route(bobToCarol, 'vault'), 'from Bob, really');
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => (atCarol.length > 0 ? resolve() : void setTimeout(check, 10));
        check();
      }),
      5_000,
      'Bob’s message at Carol',
    );
    expect(atCarol).toEqual([{ body: 'from Bob, really', from: w.bob.identity.identifier }]);
    expect(bobToCarol.stats.messagesSent).toBe(1);
    await unharmed(w, 'during (e)');
  });
});

describe('unguessable run-time addresses', () => {
  it('(g) two consecutive responders and encryptors share no guessable structure', async () => {
    const w = await world();
    const mallory = await Identity.create(await InMemoryVault.create());
    const toBob = route([TCP, w.hub.address], w.bob.forwarder.forwardingAddress);
    const ends: SecureChannel[] = [];
    for (let i = 0; i < 2; i++) {
      const opened = nextListenerEvent(w.bob.listener, 'channelOpened');
      await createSecureChannel(w.mallory.ctx, mallory, toBob, {
        trustPolicy: TrustEveryone,
        timeout: 5_000,
      });
      ends.push(await opened);
    }
    const random = (address: Address, prefix: string): Buffer => {
      const match = new RegExp(`^${prefix.replace(/\./g, '\\.')}([A-Za-z0-9_-]{16})$`).exec(address.value);
      expect(match).not.toBeNull();
      return Buffer.from(match![1]!, 'base64url');
    };
    const [r1, r2] = ends.map((end) => random(end.decryptorAddress, 'sc.r.'));
    const [e1, e2] = ends.map((end) => random(end.address, 'sc.e.'));
    for (const [a, b] of [
      [r1!, r2!],
      [e1!, e2!],
    ] as const) {
      expect(a.length * 8).toBeGreaterThanOrEqual(96);
      // Not a counter: the two differ in many bits, not only at the end.
      let differing = 0;
      for (let i = 0; i < a.length; i++) for (let x = a[i]! ^ b[i]!; x !== 0; x &= x - 1) differing++;
      expect(differing).toBeGreaterThan(20);
      expect(a.subarray(0, 6).equals(b.subarray(0, 6))).toBe(false);
    }
    await unharmed(w, 'after (g)');
  });
});
