/**
 * Reliable channels under faults (issue 9), for `npm run faults` and `npm run faults:reliable`: a
 * `delivery: 'reliable'` channel from Alice to Bob's named forwarder, through a hub process
 * (reliability/procs/hub.ts), while Alice sends numbered one-way messages to Bob's sink as fast as the
 * channel takes them. Alice and Bob run in this process; the hub is a child.
 *
 * hub-kill   kill -9 the hub mid-traffic, start another on the same port: the same channel resumes once
 *            Bob's forwarder is back; Bob's sink gets every message once, in order.
 * partition  a proxy between Alice and the hub stops forwarding (nothing closes) mid-traffic for a while,
 *            then forwards again: the same, across a silent partition.
 *
 * The channel has the library's defaults (`maxUnackedBytes` 8 MiB) but a `retransmitInterval` of 250 ms.
 * Before each scenario the same world sends `baseline` messages through a default channel, unfaulted, for
 * the rate to compare with.
 */
import net from 'node:net';
import {
  RemoteForwarder,
  TCP,
  TrustEveryone,
  createSecureChannel,
  createSecureChannelListener,
  fromSecureChannel,
  route,
  type Context,
  type SecureChannel,
} from '../../src';
import { Child, stopAll } from './child';
import { Checks, count, eventually, seconds, sleep } from './report';
import { startTcpNode } from './tcp-node';

export interface ReliableFaultOptions {
  /** Numbered messages Alice sends through the reliable channel. */
  readonly messages: number;
  /** How long the partition lasts. */
  readonly partitionMs: number;
  readonly maxUnackedBytes: number;
  readonly retransmitMs: number;
  /** Messages through a default channel first, for its rate (0: none). */
  readonly baseline: number;
}

export const RELIABLE_FAULT_DEFAULTS: ReliableFaultOptions = {
  messages: 100_000,
  partitionMs: 5_000,
  maxUnackedBytes: 8 * 1024 * 1024,
  retransmitMs: 250,
  baseline: 20_000,
};

/** A TCP proxy in front of `target` that can stop forwarding both ways without closing anything. */
class PausableProxy {
  paused = false;
  private readonly held: (() => void)[] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: net.Server) {}

  static async start(target: string): Promise<{ proxy: PausableProxy; address: string }> {
    const [host, port] = target.split(':') as [string, string];
    const server = net.createServer();
    const proxy = new PausableProxy(server);
    server.on('connection', (client) => {
      const upstream = net.connect(Number(port), host);
      proxy.pipe(client, upstream);
      proxy.pipe(upstream, client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { proxy, address: `127.0.0.1:${(server.address() as net.AddressInfo).port}` };
  }

  /** Forwards again, first what was held back. */
  heal(): void {
    this.paused = false;
    for (const release of this.held.splice(0)) release();
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
  }

  private pipe(from: net.Socket, to: net.Socket): void {
    this.sockets.add(from);
    from.on('data', (chunk) => {
      if (this.paused) this.held.push(() => to.write(chunk));
      else to.write(chunk);
    });
    from.on('close', () => to.destroy());
    from.on('error', () => to.destroy());
  }
}

interface World {
  readonly o: ReliableFaultOptions;
  readonly alice: Context;
  readonly channel: SecureChannel;
  /** A default channel on the same route, for the baseline. */
  readonly plain: SecureChannel;
  /** Messages Bob's `count` worker received (the baseline's). */
  readonly counted: () => number;
  readonly bobChannel: SecureChannel;
  readonly sunk: number[];
  readonly stop: () => Promise<void>;
}

/** Bob (listener, sink, named forwarder at `hub`) and Alice's reliable channel to him through `aliceHub`. */
async function world(hub: string, aliceHub: string, o: ReliableFaultOptions): Promise<World> {
  const { node: bobNode, ctx: bobCtx, identity: bob } = await startTcpNode('bob');
  const listener = await createSecureChannelListener(bobCtx, bob, 'listener', {
    trustPolicy: TrustEveryone,
    retransmitInterval: o.retransmitMs,
    peerTimeout: 120_000,
  });
  const sunk: number[] = [];
  let counted = 0;
  await bobNode.startWorker(
    'count',
    { handleMessage: () => void counted++ },
    { access: fromSecureChannel() },
  );
  await bobNode.startWorker(
    'sink',
    { handleMessage: (_ctx, message) => void sunk.push(message.body as number) },
    { access: fromSecureChannel() },
  );
  const forwarder = await RemoteForwarder.create(bobCtx, route([TCP, hub]), 'listener', {
    name: 'bob',
    heartbeatIntervalMs: 500,
    heartbeatTimeoutMs: 2_000,
    reconnectInitialMs: 100,
    reconnectMaxMs: 500,
  });
  const { node: aliceNode, ctx: aliceCtx, identity: alice } = await startTcpNode('alice');
  const toBob = route([TCP, aliceHub], 'fwd.n.bob');
  const plain = await createSecureChannel(aliceCtx, alice, toBob, { trustPolicy: TrustEveryone });
  const bobSide = new Promise<SecureChannel>((resolve) => listener.once('channelOpened', resolve));
  const channel = await createSecureChannel(aliceCtx, alice, toBob, {
    trustPolicy: TrustEveryone,
    delivery: 'reliable',
    retransmitInterval: o.retransmitMs,
    peerTimeout: 120_000,
    maxUnackedBytes: o.maxUnackedBytes,
  });
  return {
    o,
    alice: aliceCtx,
    channel,
    plain,
    counted: () => counted,
    bobChannel: await bobSide,
    sunk,
    stop: async () => {
      await forwarder.stop();
      await Promise.all([aliceNode.stop(), bobNode.stop()]);
    },
  };
}

/** Messages per second. */
function rate(n: number, ms: number): string {
  return `${count((n * 1000) / ms)} messages/s`;
}

/** The same world's default channel, unfaulted: `baseline` messages to Bob's `count`, as fast as it takes them. */
async function baseline(w: World): Promise<void> {
  const total = w.o.baseline;
  if (total <= 0) return;
  const started = performance.now();
  for (let i = 0; i < total; i++) await w.plain.send(w.alice, 'count', i);
  await eventually(() => w.counted() >= total, 120_000, 5);
  const ms = performance.now() - started;
  console.log(`  baseline: ${count(total)} messages through a default channel, no fault: ${rate(total, ms)}`);
}

interface Traffic {
  readonly sent: () => number;
  readonly done: Promise<void>;
  readonly startedAt: number;
}

/** Sends 0..messages-1 through the channel, waiting out its backpressure. */
function traffic(w: World): Traffic {
  const messages = w.o.messages;
  let sent = 0;
  const startedAt = performance.now();
  const done = (async () => {
    for (; sent < messages; sent++) await w.channel.send(w.alice, 'sink', sent);
  })();
  return { sent: () => sent, done, startedAt };
}

/** Waits until 30% arrived, and says how fast that went. */
async function untilFault(w: World, load: Traffic): Promise<void> {
  await eventually(() => w.sunk.length >= w.o.messages * 0.3, 120_000, 10);
  const received = w.sunk.length;
  const ms = performance.now() - load.startedAt;
  console.log(
    `  reliable channel before the fault: ${count(received)} received in ${seconds(ms)}, ${rate(received, ms)} ` +
      `(${count(w.channel.reliability!.retransmitted)} frames sent again)`,
  );
}

async function judge(checks: Checks, name: string, w: World, load: Traffic, faultAt: number): Promise<void> {
  const messages = w.o.messages;
  await load.done;
  const arrived = await eventually(() => w.sunk.length >= messages, 300_000, 10);
  const end = performance.now();
  await eventually(() => w.channel.reliability!.unackedFrames === 0, 30_000);
  await sleep(2 * w.o.retransmitMs); // a last retransmission would show a duplicate now
  let disorder = 0;
  for (let i = 0; i < w.sunk.length; i++) if (w.sunk[i] !== i) disorder++;
  const unique = new Set(w.sunk).size;
  const r = w.channel.reliability!;
  console.log(
    `  ${count(w.sunk.length)} received, the last ${seconds(end - faultAt)} after the fault began, ` +
      `${seconds(end - load.startedAt)} after the first was sent (${rate(w.sunk.length, end - load.startedAt)} overall)`,
  );
  console.log(
    `  Alice sent ${count(r.retransmitted)} frames again (${r.retransmissions} recoveries), ` +
      `Bob dropped ${count(w.bobChannel.reliability!.duplicates)} duplicates and ` +
      `${count(w.bobChannel.reliability!.ahead)} frames ahead of a lost one`,
  );
  checks.check(`${name}: 0 lost`, arrived && unique === messages, `${count(messages - unique)} missing`);
  checks.check(`${name}: 0 duplicated`, w.sunk.length === unique, `${count(w.sunk.length - unique)} twice`);
  checks.check(`${name}: in order`, disorder === 0, `${count(disorder)} out of place`);
  checks.check(
    `${name}: the same channel throughout`,
    !w.channel.isClosed && !w.bobChannel.isClosed,
    `Alice ${w.channel.closeReason ?? 'open'}, Bob ${w.bobChannel.closeReason ?? 'open'}`,
  );
}

/** kill -9 the hub mid-traffic, start another on the same port: the same channel resumes, nothing lost. */
export async function reliableHubKill(checks: Checks, o = RELIABLE_FAULT_DEFAULTS): Promise<void> {
  const messages = o.messages;
  console.log(
    `\n== reliable-hub-kill: a reliable channel, kill -9 the hub under ${count(messages)} messages, restart it on the same port`,
  );
  const first = await Child.start<{ address: string }>('hub', 'hub');
  const address = first.ready.address;
  const w = await world(address, address, o);
  await baseline(w);
  const load = traffic(w);
  await untilFault(w, load);
  const faultAt = performance.now();
  await first.child.kill();
  console.log(`  hub killed (SIGKILL) after ${count(w.sunk.length)} received, ${count(load.sent())} sent`);
  await sleep(1_000);
  await Child.start('hub', 'hub', ['--listen', address]);
  console.log(`  hub restarted on ${address} ${seconds(performance.now() - faultAt)} after the kill`);
  await judge(checks, 'reliable-hub-kill', w, load, faultAt);
  await w.stop();
  await stopAll();
}

/** A proxy between Alice and the hub forwards nothing for a while mid-traffic, then all it held. */
export async function reliablePartition(checks: Checks, o = RELIABLE_FAULT_DEFAULTS): Promise<void> {
  const ms = o.partitionMs;
  console.log(
    `\n== reliable-partition: a reliable channel, Alice's link to the hub forwards nothing for ${seconds(ms)} mid-traffic`,
  );
  const hub = await Child.start<{ address: string }>('hub', 'hub');
  const { proxy, address } = await PausableProxy.start(hub.ready.address);
  const w = await world(hub.ready.address, address, o);
  await baseline(w);
  const load = traffic(w);
  await untilFault(w, load);
  const faultAt = performance.now();
  proxy.paused = true;
  console.log(`  partitioned after ${count(w.sunk.length)} received, ${count(load.sent())} sent`);
  await sleep(ms);
  proxy.heal();
  console.log(`  healed`);
  await judge(checks, 'reliable-partition', w, load, faultAt);
  await w.stop();
  proxy.close();
  await stopAll();
}
