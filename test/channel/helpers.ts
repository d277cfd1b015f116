import { EventEmitter } from 'node:events';
import {
  Address,
  LocalMessage,
  NodeRuntime,
  Route,
  TRANSPORT_INFO,
  addressTypeName,
  decodeBody,
  decodeTransportMessage,
  encodeBody,
  encodeTransportMessage,
  registerAddressType,
  SecureChannelError,
  type Context,
  type NodeOptions,
  type Routed,
} from '../../src/internal';
import { untilAny, within } from '../helpers/async';
import type { Worker } from '../../src/node/worker';
import { Identity } from '../../src/identity';
import { InMemoryVault } from '../../src/vault';

/** The address type of the in-process test wire (no sockets): `9#<node name>`. */
export const WIRE = 9;
if (addressTypeName(WIRE) === undefined) registerAddressType(WIRE, 'TESTWIRE');

/** What the wire may do to an encoded message in flight: return the bytes to deliver (or none to drop). */
export type WireTap = (bytes: Uint8Array, from: string, to: string) => Uint8Array[];

/**
 * Connects nodes in one process the way a transport would: a message whose next hop is `9#<name>` is encoded
 * as a transport message (body and routes to bytes), carried to that node, decoded there and delivered with
 * the transport flag set, its return route extended with `9#<sender>`. No sockets, no timers.
 */
export class TestWire {
  private readonly nodes = new Map<string, NodeRuntime>();
  /** Every encoded message that crossed the wire, in order. */
  readonly carried: { from: string; to: string; bytes: Uint8Array }[] = [];
  tap: WireTap = (bytes) => [bytes];

  async attach(node: NodeRuntime, name: string): Promise<void> {
    this.nodes.set(name, node);
    const worker: Worker = {
      handleMessage: (_ctx: Context, msg: Routed): Promise<void> | undefined => {
        const to = msg.onwardRoute.nextOrThrow().value;
        const bytes = encodeTransportMessage({
          onwardRoute: msg.onwardRoute.stepForward(),
          returnRoute: msg.returnRoute.prepend(new Address(WIRE, name)),
          payload: encodeBody(msg.body),
        });
        return this.carry(bytes, name, to);
      },
    };
    const address = Address.local(`wire.${name}`);
    await node.startWorker(address, worker, { acceptsTransportMessages: true });
    node.registerTypeRouter(WIRE, address);
  }

  private async carry(bytes: Uint8Array, from: string, to: string): Promise<void> {
    const target = this.nodes.get(to);
    if (target === undefined || target.isStopped) return;
    for (const out of this.tap(bytes, from, to)) {
      this.carried.push({ from, to, bytes: out });
      const decoded = decodeTransportMessage(out);
      await target.deliver(
        new LocalMessage(decoded.onwardRoute, decoded.returnRoute, decodeBody(decoded.payload), {
          [TRANSPORT_INFO]: { type: 'test-wire', from },
        }),
      );
    }
  }
}

/** One message as a hop saw it. */
export interface HopEntry {
  readonly body: unknown;
  readonly onwardRoute: Route;
  readonly returnRoute: Route;
}

/**
 * A forwarding hop to put on a channel's route: it passes each message on (adding itself to the return route,
 * so that answers come back through it too), after `transform`, which may change, drop, duplicate or hold
 * frames. `inject` sends a frame later, as if it had just arrived.
 */
export class Hop implements Worker {
  readonly seen: HopEntry[] = [];
  transform: (entry: HopEntry) => unknown[] = (entry) => [entry.body];
  private ctx: Context | undefined;

  static async start(node: NodeRuntime, name: string): Promise<Hop> {
    const hop = new Hop();
    await node.startWorker(name, hop, { acceptsTransportMessages: true });
    return hop;
  }

  initialize(ctx: Context): void {
    this.ctx = ctx;
  }

  async handleMessage(_ctx: Context, msg: Routed): Promise<void> {
    const entry: HopEntry = {
      body: msg.body,
      onwardRoute: msg.onwardRoute.stepForward(),
      returnRoute: msg.returnRoute.prepend(msg.address),
    };
    this.seen.push(entry);
    for (const body of this.transform(entry)) await this.inject(entry, body);
  }

  /** Forwards `body` (default: the entry's own) along the entry's routes. */
  inject(entry: HopEntry, body: unknown = entry.body): Promise<unknown> {
    return this.ctx!.forward(new LocalMessage(entry.onwardRoute, entry.returnRoute, body));
  }

  /** DATA frames (type 4) seen going to `decryptor`. */
  dataFramesTo(decryptor: Address): HopEntry[] {
    return this.seen.filter(
      (e) => e.body instanceof Uint8Array && e.body[0] === 4 && e.onwardRoute.recipient?.equals(decryptor),
    );
  }
}

/** A copy of `bytes` with one bit flipped at `index`. */
export function flipped(bytes: Uint8Array, index: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[index]! ^= 0x01;
  return copy;
}

/** A new identity in its own in-memory vault. */
export async function newIdentity(): Promise<Identity> {
  return Identity.create(await InMemoryVault.create());
}

/** A worker that sends every body back to where it came from, and remembers what it received (`received` event). */
export class Echoer extends EventEmitter implements Worker {
  readonly received: Routed[] = [];

  async handleMessage(ctx: Context, msg: Routed): Promise<void> {
    this.received.push(msg);
    this.emit('received', msg);
    await ctx.send(msg.returnRoute, msg.body);
  }

  get bodies(): unknown[] {
    return this.received.map((m) => m.body);
  }
}

/** Two nodes on a test wire, an identity for each, an echoer on each, and a hop on Alice's node. */
export interface Pair {
  readonly a: NodeRuntime;
  readonly b: NodeRuntime;
  readonly wire: TestWire;
  readonly alice: Identity;
  readonly bob: Identity;
  /** A context on Alice's node. */
  readonly actx: Context;
  /** A context on Bob's node. */
  readonly bctx: Context;
  readonly aliceEchoer: Echoer;
  readonly bobEchoer: Echoer;
  /** A forwarding hop on Alice's node, the first hop of `toListener`. */
  readonly hop: Hop;
  /** Alice's route to Bob's listener (which the test starts at `listener`): `hop => 9#bob => listener`. */
  readonly toListener: Route;
}

/** Sets up a `Pair`; `newNode` is the test's node factory (stopped after each test). */
export async function pair(
  newNode: (options?: NodeOptions) => NodeRuntime,
  options: NodeOptions = {},
): Promise<Pair> {
  const a = newNode(options);
  const b = newNode(options);
  const wire = new TestWire();
  await wire.attach(a, 'alice');
  await wire.attach(b, 'bob');
  const aliceEchoer = new Echoer();
  const bobEchoer = new Echoer();
  await a.startWorker('echoer', aliceEchoer);
  await b.startWorker('echoer', bobEchoer);
  const hop = await Hop.start(a, 'hop');
  return {
    a,
    b,
    wire,
    alice: await newIdentity(),
    bob: await newIdentity(),
    actx: a.context(),
    bctx: b.context(),
    aliceEchoer,
    bobEchoer,
    hop,
    toListener: Route.of([Address.local('hop'), new Address(WIRE, 'bob'), Address.local('listener')]),
  };
}

/** The secure channel workers (`sc.*` addresses) still running on a node. */
export function channelWorkers(node: NodeRuntime): string[] {
  return node
    .workers()
    .map((address) => address.value)
    .filter((value) => /^~?sc\./.test(value));
}

/** Resolves once no channel worker runs on any of `nodes`, checking as their workers stop (no polling). */
export function channelWorkersGone(...nodes: NodeRuntime[]): Promise<void> {
  return untilAny(
    nodes.map((node) => [node, 'workerStopped'] as const),
    () => nodes.every((node) => channelWorkers(node).length === 0),
    5_000,
    'every channel worker to stop',
  );
}

/** Awaits `promise`, expecting a SecureChannelError; returns it. */
export async function channelError(promise: Promise<unknown>, ms = 10_000): Promise<SecureChannelError> {
  try {
    await within(promise, ms, 'the secure channel operation');
  } catch (error) {
    expect(error).toBeInstanceOf(SecureChannelError);
    return error as SecureChannelError;
  }
  throw new Error('expected a SecureChannelError, but it resolved');
}

/** The next event `name` of `emitter`, or a rejection after `ms`. */
export function nextEvent<T>(emitter: object, name: string, ms = 5_000): Promise<T> {
  const source = emitter as { once(event: string, listener: (value: T) => void): unknown };
  return within(new Promise<T>((resolve) => source.once(name, resolve)), ms, `event ${name}`);
}
