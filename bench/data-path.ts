/**
 * The per-message CPU cost of a channel's DATA path, each half alone: Alice's encryptor (envelope, plaintext,
 * AEAD, frame) and Bob's decryptor (replay window, AEAD, envelope decoding, the message handed on), in
 * microseconds per message. The channel is a real one (both ends on one node); only the two contexts the
 * halves hand their output to are replaced by ones that keep it, so nothing else is timed.
 *
 *   npx ts-node -P bench/tsconfig.json bench/data-path.ts [root ...]
 *
 * Each `root` is a checkout of this repository (default: this one), measured in a process of its own; with
 * two or more, their rounds take turns, so an A/B comparison shares the machine's load. CPU clock; medians
 * over the rounds, and ratios as the median of per-round ratios.
 */
import { fork } from 'node:child_process';
import { resolve } from 'node:path';

type Src = typeof import('../src/internal');
type Channel = import('../src/internal').SecureChannel;

const SIZES = [64, 1024];
/** Messages per batch: sent (frames kept), then received; a round is `BATCHES` batches. */
const BATCH = 1_000;
const BATCHES = 20;
const ROUNDS = Number(process.env.ROUNDS ?? 9);

interface Ends {
  readonly name: string;
  readonly src: Src;
  readonly alice: Channel;
  readonly bob: Channel;
  received: number;
}

async function ends(root: string): Promise<Ends> {
  const src = (await import(resolve(root, 'src/internal'))) as Src;
  const { sodiumReady } = (await import(resolve(root, 'src/crypto/sodium'))) as {
    sodiumReady(): Promise<void>;
  };
  await sodiumReady();
  const vault = async () => src.Identity.create(await src.InMemoryVault.create());
  const [a, b] = [await vault(), await vault()];
  const node = new src.NodeRuntime({ logger: src.silentLogger });
  const ctx = node.context('alice');
  const listener = await src.createSecureChannelListener(ctx, b, 'listener', {
    trustPolicy: src.TrustIdentifier(a.identifier),
    keepaliveInterval: 0, // no PING of Bob's own between the frames the rounds carry
  });
  const opened = new Promise<Channel>((done) => listener.once('channelOpened', done));
  const alice = await src.createSecureChannel(ctx, a, src.route('listener'), {
    trustPolicy: src.TrustIdentifier(b.identifier),
    keepaliveInterval: 0, // nor of Alice's: she hears nothing back, and would close the channel
  });
  const bob = await opened;
  const out: Ends = { name: root, src, alice, bob, received: 0 };
  // The halves' contexts: Alice's frames are kept for Bob, Bob's messages counted (and their bodies read).
  const queued = { status: 'queued' };
  (bob.end.decryptor as unknown as { ctx: unknown }).ctx = {
    deliver(message: { body: Uint8Array }) {
      out.received += message.body.length;
      return queued;
    },
  };
  return out;
}

/**
 * One round: µs per message to send and to receive `size`-byte bodies, each the fastest of `BATCHES` batches
 * (the batch least disturbed by other processes: the machines we run on are shared).
 */
function round(e: Ends, size: number): { send: number; receive: number } {
  const frames: Uint8Array[] = new Array(BATCH);
  let i = 0;
  (e.alice.end.encryptor as unknown as { ctx: unknown }).ctx = {
    deliver(message: { body: Uint8Array }) {
      frames[i++] = message.body;
      return { status: 'queued' };
    },
  };
  const onward = e.src.Route.of([e.src.Address.local('sink')]);
  const back = e.src.Route.of([e.src.Address.local('app')]);
  const body = new Uint8Array(size).fill(7);
  const { encryptor, decryptor } = { encryptor: e.alice.end.encryptor, decryptor: e.bob.end.decryptor };
  let send = Infinity;
  let receive = Infinity;
  for (let b = 0; b < BATCHES; b++) {
    i = 0;
    let t = process.cpuUsage();
    for (let m = 0; m < BATCH; m++) encryptor.transmit(onward, back, body);
    let used = process.cpuUsage(t);
    send = Math.min(send, used.user + used.system);
    const before = e.received;
    t = process.cpuUsage();
    for (let m = 0; m < BATCH; m++) decryptor.receive(frames[m]!);
    used = process.cpuUsage(t);
    receive = Math.min(receive, used.user + used.system);
    if (e.received - before !== BATCH * size) throw new Error(`${e.name}: a message was lost`);
  }
  return { send: send / BATCH, receive: receive / BATCH };
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

/** The median of the per-round ratios: each pair was measured in the same round, under the same load. */
function ratioOf(xs: number[], base: number[]): string {
  return `${median(xs.map((x, r) => x / base[r]!)).toFixed(2)}x`;
}

interface Figures {
  readonly send: number;
  readonly receive: number;
}

/** A child process measuring one root: one root per process, so no root's code shares a heap with another's. */
async function child(root: string): Promise<(size: number) => Promise<Figures>> {
  const proc = fork(__filename, ['--child', root], { execArgv: ['-r', 'ts-node/register/transpile-only'] });
  let waiting: ((figures: Figures) => void) | undefined;
  // The first message says the child is ready: one sent before it listens would be lost.
  await new Promise((ready) => proc.once('message', ready));
  proc.on('message', (figures: Figures) => waiting?.(figures));
  return (size) =>
    new Promise((done) => {
      waiting = done;
      proc.send(size);
    });
}

async function main(): Promise<void> {
  const given = process.argv.slice(2);
  const roots = given.length > 0 ? given : ['.'];
  const children = await Promise.all(roots.map(child));
  for (const size of SIZES) {
    const figures = roots.map(() => ({ send: [] as number[], receive: [] as number[] }));
    for (let r = -2; r < ROUNDS; r++) {
      // Two warm-up rounds, then the roots one after another (never at once), in an order rotating per round.
      for (let k = 0; k < roots.length; k++) {
        const j = (k + Math.max(r, 0)) % roots.length;
        const { send, receive } = await children[j]!(size);
        if (r >= 0) {
          figures[j]!.send.push(send);
          figures[j]!.receive.push(receive);
        }
      }
    }
    roots.forEach((root, j) => {
      const f = figures[j]!;
      const base = figures[0]!;
      const ratio =
        j === 0
          ? ''
          : ` (send ${ratioOf(f.send, base.send)}, receive ${ratioOf(f.receive, base.receive)} of the first)`;
      console.log(
        `${size} B  ${root}: send ${median(f.send).toFixed(2)} us/msg, receive ${median(f.receive).toFixed(2)} us/msg${ratio}`,
      );
    });
  }
  process.exit(0);
}

if (process.argv[2] === '--child') {
  void ends(process.argv[3]!).then((e) => {
    process.on('message', (size: number) => process.send!(round(e, size)));
    process.send!('ready');
  });
} else {
  void main();
}
