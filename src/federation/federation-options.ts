import type { TransportOrigin } from '../core/message';
import { integerOption } from '../core/options';
import type { Vault } from '../vault/vault';
import { FederationError } from './errors';
import { HUB_NAME } from './name-record';
import type { FederationBus, NatsConnectOptions } from './nats-bus';

/** How a hub joins a federation. Every field but `nats` and `hub` has a default (`FEDERATION_DEFAULTS`). */
export interface FederationOptions {
  /** Where NATS is (servers, credentials, TLS), or a ready `FederationBus` (tests put faults in one). */
  readonly nats: NatsConnectOptions | FederationBus;
  /**
   * This hub's name in the federation: its NATS subject is `<prefix>.hub.<hub>`, which NATS permissions
   * let only this hub subscribe to (docs/federation.md). 1..32 of `a-z 0-9 -`.
   */
  readonly hub: string;
  /** The first token of every subject of the federation. */
  readonly prefix?: string;
  /** The JetStream key-value bucket of names. */
  readonly bucket?: string;
  /** Copies of the bucket in the NATS cluster (3 for a 3-node cluster), used when the bucket is created. */
  readonly replicas?: number;
  /** The bucket's byte limit, used when the bucket is created. */
  readonly bucketMaxBytes?: number;
  /**
   * How long a claim of a name keeps trying while the bucket does not answer (NATS reconnecting, or its
   * stream electing a leader after a server died) before the registration is refused as `LIMIT_REACHED`.
   */
  readonly claimTimeoutMs?: number;
  /** How often this hub renews its lease (a heartbeat on `<prefix>.hb`). */
  readonly heartbeatMs?: number;
  /** A hub not heard from for this long is dead: routes to its epoch are dropped. */
  readonly leaseMs?: number;
  /**
   * How often a hub acknowledges the frames it received from each other hub, and flushes what it published
   * to them since the last flush (see `maxQueueBytes`).
   */
  readonly ackIntervalMs?: number;
  /**
   * Bytes published toward one hub and not yet confirmed by a flush (a round trip to the NATS server); a
   * frame that would exceed it waits for the flush, and if that does not come within `flushTimeoutMs` the
   * frame is dropped and counted. A flush starts when a quarter of it is unconfirmed, else at the next
   * `ackIntervalMs` tick (not one per frame: each is a PING and a PONG).
   */
  readonly maxQueueBytes?: number;
  /** How long a frame waits for room toward NATS before it counts as lost. */
  readonly flushTimeoutMs?: number;
  /** Bytes received from NATS and waiting for full local mailboxes; beyond it, frames are dropped, counted. */
  readonly maxInboundBytes?: number;
  /** Names on other hubs this hub keeps a route (and an address of its relay worker) for. */
  readonly maxRemoteNames?: number;
  /** The vault that checks the owners' signatures on records (default: a new in-memory vault). */
  readonly vault?: Vault;
}

/** The defaults of `FederationOptions`. */
export const FEDERATION_DEFAULTS = Object.freeze({
  prefix: 'sealroute',
  bucket: 'sealroute-names',
  replicas: 1,
  bucketMaxBytes: 64 * 1024 * 1024,
  claimTimeoutMs: 8_000,
  heartbeatMs: 250,
  leaseMs: 1_500,
  ackIntervalMs: 50,
  maxQueueBytes: 4 * 1024 * 1024,
  flushTimeoutMs: 2_000,
  maxInboundBytes: 8 * 1024 * 1024,
  maxRemoteNames: 100_000,
});

/** The options in force (defaults filled in). */
export type FederationSettings = {
  readonly [K in keyof typeof FEDERATION_DEFAULTS]: (typeof FEDERATION_DEFAULTS)[K] extends number
    ? number
    : string;
};

/** Frames the federation counted as lost or refused, by why (never silent: each is counted and logged). */
export interface FederationLosses {
  /** Gaps in the sequence numbers of frames received from another hub: NATS lost them on the way. */
  inTransit: number;
  /** Frames sent to a hub whose lease ended or which restarted before it acknowledged them. */
  unconfirmed: number;
  /** Frames meant for a previous life (epoch) of this hub. */
  staleEpoch: number;
  /** Frames dropped because the queue toward NATS stayed full for `flushTimeoutMs`, or publishing failed. */
  queueFull: number;
  /** Frames from NATS dropped because local mailboxes held `maxInboundBytes` already. */
  inboundFull: number;
  /** Frames for a name whose hub is not alive (no live lease), or for a name no longer known. */
  unroutable: number;
  /** Frames too large for NATS's payload limit. */
  tooLarge: number;
  /** Frames from another hub for a name that lives on a third one (never relayed twice). */
  transit: number;
}

/** What the federation has done and counted (`stats()`). */
export interface FederationStats {
  /** Other hubs with a live lease. */
  readonly peers: number;
  /** Names on other hubs this hub routes to. */
  readonly remoteNames: number;
  /** Names whose record says this hub. */
  readonly localNames: number;
  /** Frames published to other hubs. */
  readonly sent: number;
  /** Frames received from other hubs. */
  readonly received: number;
  readonly lost: Readonly<FederationLosses>;
  /** Sum of `lost`. */
  readonly lostTotal: number;
  /** Records of the bucket that did not verify (malformed, wrong key, bad signature): ignored. */
  readonly forgedRecords: number;
  /** Envelopes from NATS that did not decode, or that went where a hub's frames may not go. */
  readonly malformed: number;
  readonly refused: number;
  /** Slow-consumer notices and disconnects reported by the NATS client. */
  readonly slowConsumers: number;
  readonly disconnects: number;
}

/** What the federation puts in `localInfo[TRANSPORT_INFO]` of every message from another hub. */
export interface FederationTransportInfo extends TransportOrigin {
  /** `nats:<hub>`. */
  readonly remote: string;
  /** The hub it came from. */
  readonly hub: string;
}

/** Whether `value` is a ready bus (rather than how to connect to NATS). */
export function isBus(value: NatsConnectOptions | FederationBus): value is FederationBus {
  return typeof (value as FederationBus).publish === 'function';
}

const SUBJECT_TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
const BUCKET_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The settings of `options`, defaults filled in; `FederationError` `INVALID_OPTIONS` if one is wrong. */
export function federationSettings(options: FederationOptions): FederationSettings {
  const fail = (message: string): FederationError => new FederationError('INVALID_OPTIONS', message);
  if (typeof options.hub !== 'string' || !HUB_NAME.test(options.hub)) {
    throw fail('FederationOptions.hub must be 1..32 of a-z 0-9 -, starting with a letter or digit');
  }
  if (options.nats === undefined || options.nats === null) throw fail('FederationOptions.nats is required');
  const prefix = options.prefix ?? FEDERATION_DEFAULTS.prefix;
  if (!SUBJECT_TOKEN.test(prefix))
    throw fail('FederationOptions.prefix must be one subject token (A-Z a-z 0-9 _ -)');
  const bucket = options.bucket ?? FEDERATION_DEFAULTS.bucket;
  if (!BUCKET_NAME.test(bucket)) throw fail('FederationOptions.bucket must be 1..64 of A-Z a-z 0-9 _ -');
  const int = (name: keyof typeof FEDERATION_DEFAULTS, min: number, max: number): number =>
    integerOption(
      `FederationOptions.${name}`,
      options[name as keyof FederationOptions],
      FEDERATION_DEFAULTS[name] as number,
      { min, max },
      fail,
    );
  const heartbeatMs = int('heartbeatMs', 10, 60_000);
  const leaseMs = int('leaseMs', 20, 600_000);
  if (leaseMs <= heartbeatMs) throw fail('FederationOptions.leaseMs must be longer than heartbeatMs');
  return {
    prefix,
    bucket,
    replicas: int('replicas', 1, 5),
    bucketMaxBytes: int('bucketMaxBytes', 1024 * 1024, 2 ** 40),
    claimTimeoutMs: int('claimTimeoutMs', 0, 600_000),
    heartbeatMs,
    leaseMs,
    ackIntervalMs: int('ackIntervalMs', 1, 60_000),
    maxQueueBytes: int('maxQueueBytes', 64 * 1024, 2 ** 31),
    flushTimeoutMs: int('flushTimeoutMs', 10, 600_000),
    maxInboundBytes: int('maxInboundBytes', 64 * 1024, 2 ** 31),
    maxRemoteNames: int('maxRemoteNames', 0, 10_000_000),
  };
}
