import { randomBytes } from 'node:crypto';
import { Address } from '../../core/address';
import { NOTICE_MARKER } from '../../core/delivery-failure';
import { TRANSPORT_INFO, type LocalMessage } from '../../core/message';
import { secureChannelInfoOf } from '../../channel/access';
import type { AccessRule } from '../../node/worker';

/** A fresh unguessable session address that takes delivery failure notices (`~` first, see NOTICE_MARKER). */
export function sessionAddress(side: 'inlet' | 'outlet'): Address {
  return Address.local(
    `${NOTICE_MARKER}p${side === 'inlet' ? 'i' : 'o'}.${randomBytes(12).toString('base64url')}`,
  );
}

/**
 * The access rule of a session worker: only what came out of the session's own channel (`channelKey`, the
 * local encryptor address), or from this node's own workers (the delivery failure notices it sends). Not
 * what a connection delivered in the clear, nor what came out of any other channel, even one to the same
 * identity: the session's address is unguessable, and this makes knowing it useless all the same.
 */
export function sessionAccess(channelKey: string | undefined): AccessRule {
  return {
    name: 'portalSession',
    check: (message: LocalMessage) => {
      if (message.localInfo[TRANSPORT_INFO] !== undefined) return 'it came from a connection in the clear';
      const info = secureChannelInfoOf(message);
      if (info === undefined) return true; // made on this node
      return info.channel.key === channelKey || 'it came out of another secure channel than the session';
    },
  };
}
