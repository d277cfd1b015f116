import { TCP } from '../../src/core/address';
import { route, type Route } from '../../src/core/route';
import { remoteIdentifierOf, fromSecureChannel } from '../../src/channel/access';
import { createSecureChannel, type SecureChannelOptions } from '../../src/channel/create-secure-channel';
import {
  createSecureChannelListener,
  type SecureChannelListener,
  type SecureChannelListenerEvents,
  type SecureChannelListenerOptions,
} from '../../src/channel';
import type { SecureChannel } from '../../src/channel/secure-channel';
import { Identity, TrustAnyIdentity, TrustIdentifier } from '../../src/identity';
import {
  RemoteForwarder,
  type RemoteForwarderEvents,
  type RemoteForwarderOptions,
} from '../../src/services/remote-forwarder';
import type { NodeRuntime } from '../../src/node/node-runtime';
import { InMemoryVault } from '../../src/vault';
import { within } from './async';
import { startTcpNode, type Cleanup, type TcpTestNode } from './tcp-fixtures';

/** What Bob's echoer received: the body, and who sent it (the channel's authenticated peer). */
export interface Received {
  readonly body: unknown;
  readonly from: string | undefined;
}

/**
 * Starts Bob's `echoer` on `node`: it accepts only what came through a secure channel, sends each body back
 * and records it with its sender. Resolves with the record.
 */
export async function startRecordingEchoer(node: NodeRuntime): Promise<Received[]> {
  const received: Received[] = [];
  await node.startWorker(
    'echoer',
    {
      handleMessage: (ctx, message) => {
        received.push({ body: message.body, from: remoteIdentifierOf(message) });
        return ctx.send(message.returnRoute, message.body);
      },
    },
    { access: fromSecureChannel() },
  );
  return received;
}

/** Bob of examples/bob.ts, in process: a node behind a hub, with a channel listener and an echoer. */
export interface Bob extends TcpTestNode {
  readonly identity: Identity;
  readonly listener: SecureChannelListener;
  readonly forwarder: RemoteForwarder;
  /** Everything the echoer accepted, in order. */
  readonly received: Received[];
}

/** Options of `startBob`. */
export interface BobOptions {
  readonly listener?: Partial<SecureChannelListenerOptions>;
  readonly forwarder?: RemoteForwarderOptions;
}

/**
 * Starts Bob: a node that only connects out, a secure channel `listener` that admits any identity, an `echoer`
 * that accepts only what came through a secure channel, and a remote forwarder at the hub `hubAddress`
 * that leads to the listener.
 */
export async function startBob(cleanup: Cleanup, hubAddress: string, options: BobOptions = {}): Promise<Bob> {
  const bob = await startTcpNode(cleanup, { listen: false });
  const identity = await Identity.create(await InMemoryVault.create());
  const listener = await createSecureChannelListener(bob.ctx, identity, 'listener', {
    trustPolicy: TrustAnyIdentity, // as examples/bob.ts: a public echoer
    ...options.listener,
  });
  const received = await startRecordingEchoer(bob.node);
  const forwarder = await RemoteForwarder.create(
    bob.ctx,
    route([TCP, hubAddress]),
    'listener',
    options.forwarder,
  );
  cleanup.add(() => forwarder.stop());
  return { ...bob, identity, listener, forwarder, received };
}

/** Alice of examples/alice.ts, in process: opens channels to Bob and sends his echoer messages. */
export interface Alice extends TcpTestNode {
  readonly identity: Identity;
  /** Opens a channel to the listener at the end of `to`, trusting only `bob`; 5 s handshake timeout. */
  open(to: Route, bob: Identity, options?: Partial<SecureChannelOptions>): Promise<SecureChannel>;
  /**
   * Sends `text` to Bob's echoer through `channel` and resolves with the echo's body; rejects with the
   * request's typed error (`TimeoutError` after `timeoutMs`).
   */
  echo(channel: SecureChannel, text: string, timeoutMs?: number): Promise<unknown>;
  /** Echoes received through `channel` so far. */
  echoes(channel: SecureChannel): number;
}

/** Starts Alice: a node that only connects out. */
export async function startAlice(cleanup: Cleanup): Promise<Alice> {
  const alice = await startTcpNode(cleanup, { listen: false });
  const identity = await Identity.create(await InMemoryVault.create());
  const echoes = new Map<SecureChannel, number>();
  return {
    ...alice,
    identity,
    open: (to, bob, options = {}) =>
      createSecureChannel(alice.ctx, identity, to, {
        trustPolicy: TrustIdentifier(bob.identifier),
        timeout: 5_000,
        ...options,
      }),
    echo: async (channel, text, timeoutMs = 5_000) => {
      const reply = await alice.ctx.request(route(channel, 'echoer'), text, { timeout: timeoutMs });
      echoes.set(channel, (echoes.get(channel) ?? 0) + 1);
      return reply.body;
    },
    echoes: (channel) => echoes.get(channel) ?? 0,
  };
}

/** The next event `event` of a remote forwarder (unbounded: bound it with `within` where it is awaited). */
export function nextForwarderEvent<K extends keyof RemoteForwarderEvents>(
  forwarder: RemoteForwarder,
  event: K,
): Promise<RemoteForwarderEvents[K][0]> {
  return new Promise((resolve) =>
    forwarder.once(event, ((value: RemoteForwarderEvents[K][0]) => resolve(value)) as never),
  );
}

/** The next event `event` of a listener, within `timeoutMs`. */
export function nextListenerEvent<K extends keyof SecureChannelListenerEvents>(
  listener: SecureChannelListener,
  event: K,
  timeoutMs = 10_000,
): Promise<SecureChannelListenerEvents[K][0]> {
  const next = new Promise<SecureChannelListenerEvents[K][0]>((resolve) =>
    listener.once(event, ((value: SecureChannelListenerEvents[K][0]) => resolve(value)) as never),
  );
  const bounded = within(next, timeoutMs, `the listener's ${event} event`);
  bounded.catch(() => undefined); // a test that failed before awaiting it must not also crash on it
  return bounded;
}
