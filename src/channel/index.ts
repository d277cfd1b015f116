/**
 * Secure channels: mutually authenticated, end-to-end encrypted channels (Noise XX, IK or NK) that are
 * just worker addresses, over any route.
 */
export { createSecureChannel, type SecureChannelOptions } from './create-secure-channel';
export { createSecureChannelListener } from './create-secure-channel-listener';
export {
  SecureChannelListener,
  type SecureChannelListenerOptions,
  type SecureChannelListenerStats,
  type SecureChannelListenerEvents,
} from './secure-channel-listener';
export {
  SecureChannel,
  type CloseReason,
  type DroppedFrames,
  type MissingFrames,
  type SecureChannelEvents,
  type SecureChannelStats,
} from './secure-channel';
export {
  fromSecureChannel,
  remoteIdentifierOf,
  secureChannelInfoOf,
  secureChannelPathOf,
  SECURE_CHANNEL_INFO,
  type FromSecureChannelOptions,
  type SecureChannelInfo,
} from './access';
export {
  SecureChannelError,
  SECURE_CHANNEL_ERROR_CODES,
  type RefusalReason,
  type SecureChannelErrorCode,
} from './errors';
export { SECURE_CHANNEL_DEFAULTS, type ChannelEndOptions } from './options';
export { secureChannelMemory } from './channel-memory';
export type { NonceGap } from './reorder-buffer';
export {
  requireAttributes,
  requirePolicy,
  remoteAttributesOf,
  type AttributeRuleOptions,
} from './attribute-access';
