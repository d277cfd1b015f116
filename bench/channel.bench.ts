/**
 * Secure channels within one process (both ends on one node, no sockets): handshakes beside the bare Noise
 * XX handshake, and message throughput beside the AEAD work alone (bench/baselines/aead.ts). Nothing here
 * waits for I/O or timers, so rounds are timed on the CPU clock. See bench/README.md.
 */
import { randomBytes } from 'node:crypto';
import {
  Identity,
  InMemoryVault,
  NodeRuntime,
  TrustCredential,
  TrustIdentifier,
  createSecureChannel,
  createSecureChannelListener,
  issueCredential,
  route,
  silentLogger,
  type Context,
  type Routed,
  type SecureChannel,
  type SecureChannelListenerOptions,
  type SecureChannelOptions,
} from '../src';
import { HandshakeState, generateStaticKey, type NoiseStaticKey } from '../src/noise';
import { sodiumReady } from '../src/crypto/sodium';
import { withoutBindingCache, withoutCredentialCache } from './binding-cache';
import { aeadThroughput, cipherStateAead, libsodiumAead, nodeAead, type Aead } from './baselines/aead';
import { checkFloorInterop, floorHandshake, floorKeyPair, type FloorKeyPair } from './baselines/noise-floor';
import { startClock, type Suite } from './harness';

/** Handshakes per round, the same for every variant: about 0.3 s of Sealroute's. */
const HANDSHAKES = 200;
/** 1 KiB messages per round: about 0.3 s. */
const ONEWAY_1K_N = 20_000;
/** 64 KiB messages per round: 64 MB, about 0.3 s. */
const BULK_64K_N = 1_000;
const KIB = 1024;

interface Peers {
  readonly alice: Identity;
  readonly bob: Identity;
  /** The authority of the credential handshakes. */
  readonly authority: Identity;
}

let peersOnce: Promise<Peers> | undefined;

/**
 * Alice (initiator) and Bob (listener), made once: an identity signs its static key's binding once per
 * process, as a long-running node does, so the rounds measure handshakes, not key generation.
 */
function peers(): Promise<Peers> {
  peersOnce ??= (async () => ({
    alice: await Identity.create(await InMemoryVault.create()),
    bob: await Identity.create(await InMemoryVault.create()),
    authority: await Identity.create(await InMemoryVault.create()),
  }))();
  return peersOnce;
}

/** What each end of a benchmark's channels is told: plain (trusting each other's identifier) by default. */
interface Ends {
  readonly listener: (p: Peers) => SecureChannelListenerOptions;
  readonly initiator: (p: Peers) => SecureChannelOptions;
}

const PLAIN: Ends = {
  listener: (p) => ({ trustPolicy: TrustIdentifier(p.alice.identifier) }),
  initiator: (p) => ({ trustPolicy: TrustIdentifier(p.bob.identifier) }),
};

/** A node with Bob's listener (trusting Alice only) at `listener`, stopped after `body`. */
async function withListener<T>(body: (ctx: Context, p: Peers) => Promise<T>, ends = PLAIN): Promise<T> {
  const p = await peers();
  const node = new NodeRuntime({ logger: silentLogger });
  try {
    const ctx = node.context('alice');
    await createSecureChannelListener(ctx, p.bob, 'listener', ends.listener(p));
    return await body(ctx, p);
  } finally {
    await node.stop();
  }
}

function openChannel(ctx: Context, p: Peers, ends = PLAIN): Promise<SecureChannel> {
  return createSecureChannel(ctx, p.alice, route('listener'), ends.initiator(p));
}

let credentialEndsOnce: Promise<Ends> | undefined;

/**
 * One credential on each side, both verified: Bob presents `role=server` and admits only holders of
 * `role=client` from the authority; Alice presents `role=client` and trusts only `role=server`. Issued once
 * per run (valid an hour), as a member holds one credential across many handshakes.
 */
function credentialEnds(): Promise<Ends> {
  credentialEndsOnce ??= (async () => {
    const p = await peers();
    const ttl = { ttlMs: 3_600_000 };
    const [forAlice, forBob] = await Promise.all([
      issueCredential(p.authority, p.alice.identifier, { role: 'client' }, ttl),
      issueCredential(p.authority, p.bob.identifier, { role: 'server' }, ttl),
    ]);
    // Made once, as a long-running node makes its options once (the settings are cached per options object).
    const listener: SecureChannelListenerOptions = {
      trustPolicy: TrustCredential({ authority: p.authority, attributes: { role: 'client' } }),
      credentials: [forBob],
    };
    const initiator: SecureChannelOptions = {
      trustPolicy: TrustCredential({ authority: p.authority, attributes: { role: 'server' } }),
      credentials: [forAlice],
    };
    return { listener: () => listener, initiator: () => initiator };
  })();
  return credentialEndsOnce;
}

/** Sealroute: `createSecureChannel` to the listener (XX, identity proofs, trust policies), then `close()`. */
function channelHandshakes(n: number, ends = PLAIN): Promise<number> {
  return withListener(async (ctx, p) => {
    const clock = startClock('cpu');
    for (let i = 0; i < n; i++) {
      const channel = await openChannel(ctx, p, ends);
      await channel.close();
    }
    return clock.perSecond(n);
  }, ends);
}

/**
 * The same with every binding verified (Ed25519) as if the peer were new: the candidate's peers reconnect
 * with the same static keys, so its verifications are cache hits (`VerifiedBindings`).
 */
function coldHandshakes(n: number): Promise<number> {
  return withoutBindingCache(() => channelHandshakes(n));
}

/** Handshakes presenting and verifying one credential on each side (`credentialEnds`). */
async function credentialHandshakes(n: number): Promise<number> {
  return channelHandshakes(n, await credentialEnds());
}

/** The same with every binding and every credential signature verified, as for peers never seen before. */
function coldCredentialHandshakes(n: number): Promise<number> {
  return withoutBindingCache(() => withoutCredentialCache(() => credentialHandshakes(n)));
}

let staticKeysOnce: Promise<[NoiseStaticKey, NoiseStaticKey]> | undefined;

/** The bare Noise_XX_25519_ChaChaPoly_SHA256 handshake: two HandshakeStates in memory, empty payloads. */
async function noiseHandshakes(n: number): Promise<number> {
  staticKeysOnce ??= Promise.all([generateStaticKey(), generateStaticKey()]);
  const [si, sr] = await staticKeysOnce;
  const clock = startClock('cpu');
  for (let i = 0; i < n; i++) {
    const initiator = await HandshakeState.create({ initiator: true, s: si });
    const responder = await HandshakeState.create({ initiator: false, s: sr });
    await responder.readMessage(await initiator.writeMessage()); // -> e
    await initiator.readMessage(await responder.writeMessage()); // <- e, ee, s, es
    await responder.readMessage(await initiator.writeMessage()); // -> s, se
    initiator.split();
    responder.split();
  }
  return clock.perSecond(n);
}

let floorKeysOnce: Promise<[FloorKeyPair, FloorKeyPair]> | undefined;

/**
 * The same handshake from bare node:crypto calls (bench/baselines/noise-floor.ts), checked once against
 * `HandshakeState` before its first round: the limit of `noise_xx`'s primitives.
 */
async function floorHandshakes(n: number): Promise<number> {
  floorKeysOnce ??= checkFloorInterop().then(() => [floorKeyPair(), floorKeyPair()]);
  const [si, sr] = await floorKeysOnce;
  const clock = startClock('cpu');
  for (let i = 0; i < n; i++) floorHandshake(si, sr);
  return clock.perSecond(n);
}

/**
 * `n` messages of `size` bytes through a channel to a worker behind it (`await ctx.send` each, as real code
 * does); the round ends when that worker has counted every byte. MB/s (10^6 bytes) on the CPU clock.
 */
function channelThroughput(size: number, n: number): Promise<number> {
  return withListener(async (ctx, p) => {
    let received = 0;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    await ctx.node.startWorker('sink', {
      handleMessage: (_ctx: Context, msg: Routed<Uint8Array>) => {
        received += msg.body.length;
        if (received === n * size) finish();
      },
    });
    const channel = await openChannel(ctx, p);
    const sink = route(channel, 'sink');
    const body = new Uint8Array(randomBytes(size));
    const clock = startClock('cpu');
    for (let i = 0; i < n; i++) await ctx.send(sink, body);
    await done;
    return clock.perSecond((n * size) / 1e6);
  });
}

/** A fresh random key for an AEAD baseline round. */
async function aeadRound(make: (key: Uint8Array) => Aead, size: number, n: number): Promise<number> {
  await sodiumReady();
  return aeadThroughput(make(new Uint8Array(randomBytes(32))), size, n, 'cpu');
}

export const suite: Suite = {
  name: 'channel',
  benchmarks: [
    {
      name: 'channel.handshake',
      unit: 'handshakes/cpu-s',
      candidate: () => channelHandshakes(HANDSHAKES),
      baseline: { name: 'noise_xx', round: () => noiseHandshakes(HANDSHAKES) },
      comparisons: [
        { name: 'cold_cache', round: () => coldHandshakes(HANDSHAKES) },
        { name: 'noise_floor', round: () => floorHandshakes(HANDSHAKES) },
      ],
      // The Noise core against its primitives' limit (issue 10): noise_xx >= 0.8x noise_floor.
      goals: { baselineVs: { noise_floor: 0.8 } },
    },
    {
      // Credentials in the handshake (issue 13) beside the same handshake without them, in the same run.
      name: 'channel.handshake_credentials',
      unit: 'handshakes/cpu-s',
      candidate: () => credentialHandshakes(HANDSHAKES),
      baseline: { name: 'plain', round: () => channelHandshakes(HANDSHAKES) },
      comparisons: [{ name: 'cold_cache', round: () => coldCredentialHandshakes(HANDSHAKES) }],
      goals: { ratioAtLeast: 0.8 },
    },
    {
      name: 'channel.oneway_1k',
      unit: 'MB/cpu-s',
      candidate: () => channelThroughput(KIB, ONEWAY_1K_N),
      baseline: { name: 'aead', round: () => aeadRound(cipherStateAead, KIB, ONEWAY_1K_N) },
    },
    {
      name: 'channel.bulk_64k',
      unit: 'MB/cpu-s',
      candidate: () => channelThroughput(64 * KIB, BULK_64K_N),
      baseline: { name: 'aead', round: () => aeadRound(cipherStateAead, 64 * KIB, BULK_64K_N) },
    },
    {
      // The size-based backend choice: CipherState (node:crypto at this size) beside each backend forced.
      name: 'channel.aead_64k',
      unit: 'MB/cpu-s',
      candidate: () => aeadRound(cipherStateAead, 64 * KIB, BULK_64K_N),
      baseline: { name: 'libsodium', round: () => aeadRound(libsodiumAead, 64 * KIB, BULK_64K_N) },
      comparisons: [{ name: 'node', round: () => aeadRound(nodeAead, 64 * KIB, BULK_64K_N) }],
    },
  ],
};
