/** Hub federation on NATS JetStream (docs/federation.md). */
export {
  Federation,
  FEDERATION_DEFAULTS,
  subjectOf,
  type FederationOptions,
  type FederationStats,
  type FederationLosses,
  type FederationTransportInfo,
  type FederatedClaim,
} from './federation';
export { startFederatedHub, type FederatedHub, type FederatedHubOptions } from './federated-hub';
export {
  FailoverForwarder,
  FAILOVER_DEFAULTS,
  type FailoverForwarderOptions,
  type FailoverForwarderEvents,
} from './failover-forwarder';
export {
  connectNats,
  NameConflict,
  type FederationBus,
  type BusEvent,
  type BusSubscription,
  type NameStore,
  type NameEntry,
  type NameBucketOptions,
  type NatsConnectOptions,
} from './nats-bus';
export { hubPermissions, inboxPrefixOf } from './permissions';
export { FederationError, type FederationErrorCode } from './errors';
export { HUB_NAME, type NameRecord } from './name-record';
