import { credentialSettingsOf } from './channel-credentials';
import { Address } from '../core/address';
import { NOTICE_MARKER } from '../core/delivery-failure';
import { toRoute } from '../core/route';
import type { Identity } from '../identity';
import type { Context, Destination } from '../node/context';
import { SecureChannelError } from './errors';
import { channelPattern } from './channel-protocols';
import { Handshake } from './handshake';
import { HandshakeWorker } from './handshake-worker';
import {
  SECURE_CHANNEL_DEFAULTS,
  resolveInitiatorOptions,
  resolveLimits,
  type ChannelEndOptions,
} from './options';
import type { SecureChannel } from './secure-channel';
import { localStaticKey } from './static-keys';
import { warnOfTrustEveryone } from './trust-warning';

/** How `createSecureChannel` opens a channel. */
export interface SecureChannelOptions extends ChannelEndOptions {
  /**
   * The Noise protocol: `Noise_<XX|IK|NK>_25519_<ChaChaPoly|AESGCM>_<SHA256|SHA512|BLAKE2b|BLAKE2s>`. Default
   * `Noise_XX_25519_ChaChaPoly_SHA256`.
   */
  readonly protocol?: string;
  /**
   * The listener's Noise static public key (`listener.staticPublicKey`). Required for IK and NK; with XX it
   * pins the responder: the handshake then fails `UNTRUSTED` for any other key.
   */
  readonly remoteStaticKey?: Uint8Array;
  /** Milliseconds until the handshake fails with `TIMEOUT`. Default 30 s. */
  readonly timeout?: number;
  /**
   * `'reliable'`: exactly-once, in-order delivery to the receiving worker across transport loss. Both ends
   * acknowledge, keep and send again what was not acknowledged; the channel survives the loss of its
   * connections (a hub restart) and resumes along `to` once the route is back (a named forwarder), until
   * `peerTimeout`. Sends wait while `maxUnackedBytes` are unacknowledged. See docs/PROTOCOL.md 4.5.
   * Default `'default'`: as fast as it gets; a frame lost on the way is reported as a gap, not sent again.
   */
  readonly delivery?: 'default' | 'reliable';
}

/**
 * Opens a secure channel, as `identity`, to the secure channel listener at the end of `to` (any route:
 * local hops, TCP, forwarders). Resolves once the listener has verified this side's identity and accepted,
 * with the channel: send to `route(channel, ...)` to reach workers behind the listener, encrypted end to
 * end. Rejects with `SecureChannelError`: `UNTRUSTED` (this side's trust policy refused the listener),
 * `REFUSED` (the listener refused; `reason` says how), `HANDSHAKE_FAILED`, `TIMEOUT`,
 * `UNSUPPORTED_PROTOCOL`, `INVALID_OPTIONS`, or, as soon as a node on the way reports the HELLO dropped, its
 * `DeliveryFailureCode` (`CONNECTION_REFUSED`, `UNREACHABLE`, `INVALID_ADDRESS`, `NO_ROUTE`...; `cause` holds
 * the local error when it was this node). No channel exists after a rejection.
 */
export async function createSecureChannel(
  ctx: Context,
  identity: Identity,
  to: Destination,
  options: SecureChannelOptions,
): Promise<SecureChannel> {
  const limits = resolveLimits(options);
  warnOfTrustEveryone(ctx.node, options.trustPolicy, 'channel');
  const { timeout } = resolveInitiatorOptions(options);
  const protocolName = options.protocol ?? SECURE_CHANNEL_DEFAULTS.protocol;
  const xx = channelPattern(protocolName) === 'XX';
  const delivery = options.delivery ?? 'default';
  if (delivery !== 'default' && delivery !== 'reliable') {
    throw new SecureChannelError(
      'INVALID_OPTIONS',
      `delivery must be 'default' or 'reliable', got ${String(delivery)}`,
    );
  }
  const destination = toRoute(to);
  const local = await localStaticKey(identity, options.staticKeyId);
  const credentials = credentialSettingsOf(options, identity.vault);
  const handshake = await Handshake.create(
    true,
    protocolName,
    {
      local,
      ...(credentials === undefined ? {} : { credentials }),
      trustPolicy: options.trustPolicy,
      parameters: {
        maxMessageSize: limits.maxMessageSize,
        rekeyInterval: limits.rekeyInterval,
        reliable: delivery === 'reliable',
      },
      pinnedRemoteStaticKey: xx ? options.remoteStaticKey : undefined,
    },
    xx ? undefined : options.remoteStaticKey,
  );

  // `~`: the decryptor takes delivery failure notices, so a HELLO dropped on its way (a refused connection,
  // no route) fails the handshake at once with the cause rather than at the timeout.
  const address = Address.unique(NOTICE_MARKER + 'sc.d.');
  let hooks!: { onOpen(c: SecureChannel): void; onFail(e: SecureChannelError): void };
  const opened = new Promise<SecureChannel>(
    (resolve, reject) => (hooks = { onOpen: resolve, onFail: reject }),
  );
  const logger = ctx.childLogger({ component: 'secure-channel', decryptor: address.key });
  // A reliable channel that lost its route resumes along the route it was opened by.
  const resumeVia = delivery === 'reliable' ? destination : undefined;
  const decryptor = new HandshakeWorker(address, handshake, limits, hooks, logger, resumeVia);
  try {
    await ctx.startWorker(address, decryptor, { acceptsTransportMessages: true });
  } catch (error) {
    handshake.destroy();
    throw error;
  }

  const timer = setTimeout(() => {
    const rejected = decryptor.rejectedFrames;
    const detail = rejected > 0 ? ` (${rejected} handshake frame(s) that did not verify were dropped)` : '';
    decryptor.fail(
      new SecureChannelError('TIMEOUT', `no secure channel within ${timeout} ms${detail}`),
      true,
    );
  }, timeout);
  try {
    decryptor.send(await handshake.start(), destination);
    return await opened;
  } catch (error) {
    decryptor.fail(
      error instanceof SecureChannelError
        ? error
        : new SecureChannelError('HANDSHAKE_FAILED', 'handshake failed', { cause: error }),
      false,
    );
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
