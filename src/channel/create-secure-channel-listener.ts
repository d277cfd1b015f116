import { Address } from '../core/address';
import type { Routed } from '../core/message';
import type { Identity } from '../identity';
import type { Context } from '../node/context';
import type { Worker } from '../node/worker';
import { resolveLimits, resolveListenerOptions, type SecureChannelListenerOptions } from './options';
import { SecureChannelListener } from './secure-channel-listener';
import { localStaticKey } from './static-keys';
import { warnOfTrustEveryone } from './trust-warning';

/** The worker at a listener's address. */
class ListenerWorker implements Worker {
  constructor(private readonly listener: SecureChannelListener) {}

  handleMessage(_ctx: Context, message: Routed): Promise<void> {
    return this.listener.accept(message);
  }
}

/**
 * Starts a secure channel listener for `identity` at `address`. Initiators reach it by any route ending at
 * that address; each accepted channel is announced as `channelOpened`. Throws `INVALID_OPTIONS` (an NK
 * protocol without `TrustEveryone`, a bad limit) or `UNSUPPORTED_PROTOCOL`.
 */
export async function createSecureChannelListener(
  ctx: Context,
  identity: Identity,
  address: string | Address,
  options: SecureChannelListenerOptions,
): Promise<SecureChannelListener> {
  const limits = resolveLimits(options, 'SecureChannelListenerOptions');
  warnOfTrustEveryone(ctx.node, options.trustPolicy, 'listener');
  const {
    maxPendingHandshakes: maxPending,
    maxPendingHandshakesPerSource: maxPendingPerSource,
    handshakeTimeout,
    maxChannelsPerIdentity: maxPerIdentity,
  } = resolveListenerOptions(options);
  const at = typeof address === 'string' ? Address.local(address) : address;
  const local = await localStaticKey(identity, options.staticKeyId);
  const logger = ctx.childLogger({ component: 'secure-channel-listener', listener: at.key });
  const listener = new SecureChannelListener(
    ctx,
    at,
    local,
    options,
    limits,
    maxPending,
    maxPendingPerSource,
    handshakeTimeout,
    logger,
    maxPerIdentity,
  );
  await ctx.startWorker(at, new ListenerWorker(listener), { acceptsTransportMessages: true });
  return listener;
}
