import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { fromSecureChannel } from '../../src/channel/access';
import { createSecureChannel, type SecureChannelOptions } from '../../src/channel/create-secure-channel';
import type { SecureChannel } from '../../src/channel/secure-channel';
import { TrustIdentifier } from '../../src/identity';
import { ForwardingService } from '../../src/services/forwarding-service';
import type { TcpTransportOptions } from '../../src/transport/tcp/tcp-options';
import { startAlice, startBob, type Alice } from '../helpers/alice-and-bob';
import { waitFor, within } from '../helpers/async';
import { HostileProxy } from '../helpers/hostile-proxy';
import { scaled } from '../helpers/slowdown';
import { SpawnedExample } from '../helpers/spawned-example';
import { Cleanup, startTcpNode } from '../helpers/tcp-fixtures';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A hub, Carol straight behind it, Bob behind it through a proxy that can freeze his link, and Alice. */
async function setUp(hubTcp: TcpTransportOptions) {
  const hub = await startTcpNode(cleanup, { tcp: hubTcp });
  const service = await ForwardingService.start(hub.ctx);
  const proxy = await HostileProxy.start(hub.address);
  cleanup.add(() => proxy.close());
  const bob = await startBob(cleanup, proxy.address);
  const carol = await startBob(cleanup, hub.address);
  const alice = await startAlice(cleanup);
  // Bob's flood lands in a sink that answers nothing, so that only Alice's traffic to him loads the hub.
  let sunk = 0;
  await bob.node.startWorker('sink', { handleMessage: () => void sunk++ }, { access: fromSecureChannel() });
  const toBob = await alice.open(route([TCP, hub.address], bob.forwarder.forwardingAddress), bob.identity);
  const toCarol = await alice.open(
    route([TCP, hub.address], carol.forwarder.forwardingAddress),
    carol.identity,
  );
  expect(alice.tcp.connections()).toHaveLength(1); // one hub connection carries both channels
  return { hub, service, proxy, bob, carol, alice, toBob, toCarol, sunk: () => sunk };
}

/**
 * A program of fixtures/ in a process of its own: it printed `ready <words>`, and answers each command
 * line, which ends in an id, with a line `<answer> <id> <words>`.
 */
class Program {
  private asked = 0;

  private constructor(
    private readonly process: SpawnedExample,
    readonly ready: readonly string[],
  ) {}

  static async start(fixture: string, args: string[]): Promise<Program> {
    const process = SpawnedExample.start(`test/services/fixtures/${fixture}`, { args });
    // Standard input closed, it stops its node and exits; killed if it has not within 5 s.
    cleanup.add(async () => {
      process.endInput();
      await within(process.exited, 5_000, `${fixture} exiting`).catch(() => process.stop('SIGKILL'));
    });
    const [, words = ''] = await process.waitForLine(/^ready (.*)$/, 30_000);
    return new Program(process, words.split(' '));
  }

  /** Sends `command` and resolves with the words of its answer (`answer` and the id), within `timeoutMs`. */
  async ask(command: string, answer: string, timeoutMs: number): Promise<string[]> {
    const id = ++this.asked;
    this.process.write(`${command} ${id}`);
    const [, words = ''] = await this.process.waitForLine(new RegExp(`^${answer} ${id} (.*)$`), timeoutMs);
    return words.split(' ');
  }
}

/** The figure `name=<n>` among the words of a hub's `stats` answer. */
function figure(words: readonly string[], name: string): number {
  const word = words.find((w) => w.startsWith(`${name}=`));
  return Number(word?.slice(name.length + 1));
}

/** The hub's CPU use between two `stats` answers `ms` apart, in percent of one core. */
function cpuShare(from: readonly string[], to: readonly string[], ms: number): number {
  return Math.round((figure(to, 'cpu') - figure(from, 'cpu')) / (ms * 10));
}

/**
 * Sends Bob `perTick` messages of 16 KiB every 10 ms through `channel` until stopped: a steady flood, kept
 * below what Alice's own link carries, so that only the hub could make her other traffic wait. At most 64
 * sends wait for room: once the channel holds its sends (a CONGESTED notice) and its queue is full, the
 * flood waits. Failures are ignored: what is measured is the flood's effect on other traffic.
 */
function flood(alice: Alice, channel: SecureChannel, perTick = 4): { stop: () => void; sent: () => number } {
  let sent = 0;
  let outstanding = 0;
  const done = (): void => void outstanding--;
  const body = new Uint8Array(16 * 1024);
  const timer = setInterval(() => {
    for (let i = 0; i < perTick && outstanding < 64 && !channel.isClosed; i++) {
      sent++;
      outstanding++;
      alice.ctx.send(route(channel, 'sink'), body).then(done, done);
    }
  }, 10);
  cleanup.add(() => clearInterval(timer));
  return { stop: () => clearInterval(timer), sent: () => sent };
}

/**
 * Round trips per second to Carol's echoer: the best of up to `windows` windows of `ms` each, stopping early
 * once a window reaches `enough`. Noise on a shared machine only ever slows a window, so the best one is the
 * estimate; head-of-line blocking would slow every window, so more windows cannot hide it.
 */
async function roundTrips(
  alice: Alice,
  channel: SecureChannel,
  { windows = 4, ms = 400, enough = Infinity } = {},
): Promise<number> {
  let best = 0;
  for (let w = 0; w < windows && best < enough; w++) {
    const until = performance.now() + ms;
    let n = 0;
    while (performance.now() < until) {
      await alice.echo(channel, 'ping', scaled(5_000));
      n++;
    }
    best = Math.max(best, (n * 1000) / ms);
  }
  return best;
}

describe('ForwardingService flow control per destination', () => {
  it("a stalled Bob does not slow Alice's round trips to Carol over the same hub connection", async () => {
    // The hub, Bob and Carol run in processes of their own, Alice and the proxy that freezes Bob's link in
    // this one: Carol's round trips measure the hub, not one event loop shared by every party. Bob's queue
    // at the hub fills by its count of messages (16 x 8 relayed) long before its 16 MiB of bytes, as it does
    // by default for messages under 64 KiB; small, so that the stall shows within seconds.
    const hub = await Program.start('flow-control-hub.ts', ['120000', '16']);
    const [hubAddress = ''] = hub.ready;
    const proxy = await HostileProxy.start(hubAddress);
    cleanup.add(() => proxy.close());
    const [bob, carol] = await Promise.all([
      Program.start('flow-control-peer.ts', [proxy.address]),
      Program.start('flow-control-peer.ts', [hubAddress]),
    ]);
    const alice = await startAlice(cleanup);
    const open = (peer: Program, options: Partial<SecureChannelOptions> = {}): Promise<SecureChannel> =>
      createSecureChannel(alice.ctx, alice.identity, route([TCP, hubAddress], peer.ready[1]!), {
        trustPolicy: TrustIdentifier(peer.ready[0]!),
        timeout: 5_000,
        ...options,
      });
    // Long liveness for the channel to Bob: the stall outlasts the measurement, and closing the channel
    // (the other test's subject) would end it.
    const toBob = await open(bob, { keepaliveInterval: 120_000, peerTimeout: 240_000 });
    const toCarol = await open(carol);
    expect(alice.tcp.connections()).toHaveLength(1); // one hub connection carries both channels

    const load = flood(alice, toBob);
    await bob.ask('sunk-over 100', 'sunk', 10_000);
    const hubBefore = await hub.ask('stats', 'stats', 5_000);
    const startBefore = performance.now();
    const before = await roundTrips(alice, toCarol, { windows: 6 });
    const hubBeforeEnd = await hub.ask('stats', 'stats', 5_000);
    const hubCpuBefore = cpuShare(hubBefore, hubBeforeEnd, performance.now() - startBefore);

    // Bob's link freezes: the hub's writes to him back up; nothing is closed.
    const thaw = proxy.freeze(0, 'fromTarget');
    cleanup.add(thaw);
    // The stall is real once Bob's queue at the hub holds its maximum and what comes on is dropped.
    await hub.ask('refused-over 0', 'stats', 10_000);
    // Alice learns (a CONGESTED notice) and holds her sends to Bob, and to him only, until he answers.
    await waitFor(() => toBob.stats.congestionHolds > 0, scaled(10_000), "Alice's hold on her sends to Bob");
    const [sunkBefore] = await bob.ask('sunk', 'sunk', 5_000);
    const sentToBob = toBob.stats.messagesSent;
    const hubDuring = await hub.ask('stats', 'stats', 5_000);
    const startDuring = performance.now();
    // More windows than before: a neighbour's CPU burst on a loaded machine may cost a few of them.
    const during = await roundTrips(alice, toCarol, { windows: 32, enough: 0.8 * before });
    const hubDuringEnd = await hub.ask('stats', 'stats', 5_000);
    const hubCpuDuring = cpuShare(hubDuring, hubDuringEnd, performance.now() - startDuring);
    // Still during the stall: Bob's queue at the hub still holds its maximum (one more of Alice's probes is
    // refused), he took nothing meanwhile, and Alice held every send to him all through the measurement.
    const hubAfter = await hub.ask(`refused-over ${figure(hubDuringEnd, 'refused')}`, 'stats', 10_000);
    expect(await bob.ask('sunk', 'sunk', 5_000)).toEqual([sunkBefore]);
    expect(toBob.stats.messagesSent).toBe(sentToBob);
    expect(toCarol.stats.congestionHolds).toBe(0);

    console.log(
      `Carol round trips/s: ${before.toFixed(0)} before the stall, ${during.toFixed(0)} during it ` +
        `(${(during / before).toFixed(2)}x); hub CPU ${hubCpuBefore}% before, ${hubCpuDuring}% during; ` +
        `hub refused ${figure(hubAfter, 'refused')} messages as congested and sent ` +
        `${figure(hubAfter, 'notices')} notices; Alice held ${load.sent() - toBob.stats.messagesSent} sends ` +
        `to Bob (${toBob.stats.pingsSent} PINGs)`,
    );
    // Head-of-line blocking would stop Carol's round trips (each waits up to 5 s, then fails).
    expect(during).toBeGreaterThanOrEqual(0.8 * before);
    expect(toCarol.isClosed).toBe(false);

    // Bob's link thaws: Alice's probe gets through, his PONG releases her held sends, and he takes them.
    thaw();
    await bob.ask(`sunk-over ${sunkBefore}`, 'sunk', 20_000);
    load.stop();
  });

  it("every frame a stalled Bob never got is counted: the hub's refusal and the gap Bob's channel reports", async () => {
    // The promise behind a default channel under overload: a hub may drop, but never unnoticed. Each frame of
    // Alice's (messages and PINGs alike) is received by Bob or reported missing by his channel, and each
    // missing one was refused by the hub as CONGESTED: one for one, none unaccounted.
    const { hub, proxy, bob, alice, toBob, sunk } = await setUp({ connectionMailboxCapacity: 16 });
    const [bobEnd] = [...bob.listener.channels];
    expect(bob.listener.channels.size).toBe(1);
    const load = flood(alice, toBob);
    const thaw = proxy.freeze(0, 'fromTarget');
    cleanup.add(thaw);
    // Forced overload (waitFor scales its budgets itself): Bob's queue at the hub is full and Alice was told.
    await waitFor(() => hub.tcp.stats.queueBytesRefused > 0, 20_000, 'a refusal at the hub');
    await waitFor(() => toBob.stats.congestionHolds > 0, 10_000, "Alice's hold on her sends to Bob");
    const sunkFrozen = sunk();
    thaw();
    // Alice's probe gets through, Bob's PONG releases her held sends, and he takes them.
    await waitFor(() => sunk() > sunkFrozen, 20_000, 'Bob taking messages after the thaw');
    load.stop();
    // Everything Alice sent is now accounted for at Bob: received, or reported missing once a later frame came
    // (her last messages go after the thaw, so no gap is left at the end). A silent loss never settles here.
    const accounted = () => bobEnd!.stats.framesReceived + bobEnd!.stats.missing.frames;
    await waitFor(() => accounted() === toBob.stats.framesSent, 20_000, 'every frame accounted for');
    const refused = hub.tcp.stats.queueBytesRefused;
    console.log(
      `Alice sent ${toBob.stats.framesSent} frames (${toBob.stats.messagesSent} messages); Bob received ` +
        `${bobEnd!.stats.framesReceived} (${sunk()} messages) and reported ${bobEnd!.stats.missing.frames} ` +
        `missing in ${bobEnd!.stats.missing.gaps} gaps; the hub refused ${refused} as CONGESTED`,
    );
    expect(bobEnd!.stats.missing.frames).toBeGreaterThan(0);
    expect(bobEnd!.stats.missing.frames).toBe(refused);
    expect(hub.node.deadLetters.countOf('undeliverable')).toBe(refused);
    // Every message Bob's channel took reached the sink (single-frame messages: 16 KiB each).
    expect(sunk()).toBe(bobEnd!.stats.messagesReceived);
  });

  it("when the hub drops a stalled Bob's forwarder, Alice's channel to him closes with the cause", async () => {
    const drainTimeoutMs = scaled(1_500);
    const { hub, service, proxy, alice, toBob, toCarol } = await setUp({ drainTimeoutMs });
    const load = flood(alice, toBob, 4);
    const thaw = proxy.freeze(0, 'fromTarget');
    cleanup.add(thaw);
    // The hub closes Bob's connection once it has not read for the drain timeout, and drops his forwarder.
    await waitFor(() => service.stats().live === 1, drainTimeoutMs + scaled(20_000));
    const reason = await within(toBob.closed(), scaled(20_000), "Alice's channel to Bob closing");
    load.stop();
    console.log(
      `Alice's channel to Bob closed (${reason}, ${toBob.closeError?.code}); the hub sent ` +
        `${hub.node.failureNotices.stats.sent} failure notices, dead letters ${hub.node.deadLetters.count}`,
    );
    expect(reason).not.toBe('local');
    expect(toBob.closeError?.code).toMatch(/^(NO_ROUTE|CONGESTED|PEER_UNRESPONSIVE|CHANNEL_CLOSED)$/);
    expect(hub.node.failureNotices.stats.sent).toBeGreaterThan(0);
    // Carol's channel is untouched.
    expect(toCarol.isClosed).toBe(false);
    await alice.echo(toCarol, 'still there');
  });
});
