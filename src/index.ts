/**
 * Sealroute's public surface. Everything an application needs is exported here; anything not exported
 * here is internal and may change.
 */
import 'reflect-metadata';

// core
export {
  Address,
  LOCAL,
  TCP,
  WS,
  WSS,
  NATS,
  registerAddressType,
  addressTypeName,
  type AddressType,
} from './core/address';
export { Route, route, type RoutePart, type Addressable } from './core/route';
export {
  LocalMessage,
  MessageOrigin,
  ORIGIN_INFO,
  originOf,
  TRANSPORT_INFO,
  TRACE_INFO,
  isTraceparent,
  traceOf,
  type OriginHop,
  vouchForOrigin,
  type TransportOrigin,
  type LocalInfo,
  type Routed,
  type TransportMessage,
} from './core/message';
export { codecs, encodeBody, decodeBody, type Codec } from './core/codec';
export {
  DeliveryFailureNotice,
  NOTICE_MARKER,
  takesFailureNotices,
  type DeliveryFailureCode,
} from './core/delivery-failure';
export { DEFAULT_MAX_MESSAGE_SIZE } from './core/wire';
export {
  SealrouteError,
  AddressError,
  DecodeError,
  MessageTooLargeError,
  TimeoutError,
  type ErrorOrigin,
} from './core/errors';

// node
export {
  NodeRuntime,
  type NodeOptions,
  type NodeEvents,
  type StartClassOptions,
  type WorkerConstructor,
  type WorkerFactory,
  type BuiltWorker,
} from './node/node-runtime';
export {
  Context,
  untilQueued,
  type Delivery,
  type NodeHost,
  type Destination,
  type WaitOptions,
  type RequestOptions,
} from './node/context';
export { allowAll, denyAll, type AccessRule, type QueueBytes, type WorkerOptions } from './node/worker';
export { ByteBudget } from './node/byte-budget';
// The type of `node.deadLetters`, to read counts and recent drops; only the node records into it.
export type { DeadLetters, DeadLetter, DropReason, DropCause, DeadLetterEvents } from './node/dead-letters';
export { FAILURE_NOTICE_DEFAULTS, type FailureNoticeStats } from './node/failure-notices';
export { NodeError } from './node/errors';
export { FlowControls, DEFAULT_MAX_JOINS_PER_PRODUCER, type FlowControlStats } from './node/flow-controls';
export { defaultLogger, silentLogger, type Logger } from './node/logger';
export {
  NodeMetrics,
  nodeMetrics,
  DROP_REASONS,
  HANDSHAKE_BUCKETS,
  type NodeMetricsEvents,
} from './node/metrics';
export type {
  MetricsSnapshot,
  TransportMetrics,
  PortalMetrics,
  TransportBytes,
  Histogram,
} from './node/metrics-snapshot';
export type {
  MeteredPortal,
  MeteredTransport,
  MeteredChannel,
  MeteredListener,
  MeteredForwardingService,
  MeteredRemoteForwarder,
} from './node/metered';

// di
export {
  Worker,
  Node,
  type WorkerDecoratorOptions,
  type NodeDecoratorOptions,
  type NodeApplication,
} from './di/decorators';
export { createNode, run, LOGGER, type CreateNodeOptions, type NodeWithContainer } from './di/create-node';
export { DiError } from './di/errors';
// tsyringe's own decorators for services, re-exported so that reflect-metadata is always loaded first (an
// application that imports them from 'tsyringe' before anything loads reflect-metadata fails at start-up).
// `@singleton()` is one instance per process, shared by every node; `@scoped(Lifecycle.ContainerScoped)` is
// one per node (each node resolves its workers from a child container of its own).
export { injectable, singleton, scoped, inject, Lifecycle, type DependencyContainer } from 'tsyringe';

// identity (and the vaults identities live in)
export {
  InMemoryVault,
  FileVault,
  VaultError,
  ARGON2ID_INTERACTIVE,
  ARGON2ID_MAX,
  ARGON2ID_MIN,
  DEFAULT_HOME,
  type Vault,
  type KeyId,
  type FileVaultOptions,
  type VaultHomeOptions,
  VAULT_ERROR_CODES,
  type VaultErrorCode,
  type FileVaultSecret,
  type Argon2Params,
  type KeyInfo,
  type KeyType,
  type AeadAlgorithm,
  type HashAlgorithm,
  type GenerateKeyOptions,
} from './vault';
export {
  Identity,
  identifierOf,
  verifyBinding,
  isIdentifier,
  parseIdentifier,
  IdentityError,
  TrustEveryone,
  TrustAnyIdentity,
  TrustIdentifier,
  allowListFrom,
  parseIdentifierList,
  anyOf,
  allOf,
  trustIf,
  type TrustPolicy,
  type PeerIdentity,
} from './identity';

// channel
export {
  createSecureChannel,
  createSecureChannelListener,
  SecureChannel,
  SecureChannelListener,
  SecureChannelError,
  fromSecureChannel,
  remoteIdentifierOf,
  secureChannelInfoOf,
  secureChannelPathOf,
  SECURE_CHANNEL_INFO,
  SECURE_CHANNEL_DEFAULTS,
  type FromSecureChannelOptions,
  secureChannelMemory,
  type SecureChannelOptions,
  type SecureChannelListenerOptions,
  type SecureChannelListenerStats,
  type SecureChannelListenerEvents,
  type SecureChannelEvents,
  type SecureChannelStats,
  type SecureChannelInfo,
  SECURE_CHANNEL_ERROR_CODES,
  type SecureChannelErrorCode,
  type ChannelEndOptions,
  type CloseReason,
  type DroppedFrames,
  type MissingFrames,
  type NonceGap,
  type RefusalReason,
} from './channel';

// transport
export { TransportError, TRANSPORT_ERROR_CODES, type TransportErrorCode } from './transport/errors';
export {
  TcpTransport,
  type TcpTransportEvents,
  type TcpTransportStats,
  type ConnectionOpenedEvent,
  type ConnectionClosedEvent,
  type ConnectionRefusedEvent,
} from './transport/tcp/tcp-transport';
export type { TcpConnection, TcpTransportInfo } from './transport/tcp/tcp-connection';
export { TCP_DEFAULTS, type TcpTransportOptions } from './transport/tcp/tcp-options';
export {
  routeTransport,
  type Transport,
  type TransportConnection,
  type ConnectionInfo,
} from './transport/transport';
export type { TransportHost } from './node/transport-host';
export { transportHost } from './node/transport-host';
export { CONNECTION_DEFAULTS, type ConnectionOptions } from './transport/connection-options';
export { WebSocketTransport } from './transport/ws/node-websocket-transport';
export type {
  WebSocketTransportOptions,
  WebSocketTls,
  WebSocketRuntime,
} from './transport/ws/websocket-transport';
export { NatsTransport, type NatsTransportOptions } from './transport/nats/nats-transport';
export type { NatsLink, NatsLinkOptions } from './transport/nats/nats-link';
export { natsNodePermissions } from './transport/nats/nats-permissions';

// services
export { ServicesError, type ServicesErrorCode } from './services/errors';
export {
  ForwardingService,
  FORWARDING_DEFAULTS,
  type ForwardingServiceOptions,
  type ForwardingStats,
  type ForwarderInfo,
  type RegistrationAdmission,
} from './services/forwarding-service';
export { FORWARDER_NAME, REFUSAL_CODES, type RefusalCode } from './services/forwarding-messages';
export {
  ForwardingAddress,
  MAX_FORWARDING_ADDRESS_LENGTH,
  type RegisteringForwarder,
} from './services/forwarding-address';
export {
  RemoteForwarder,
  REMOTE_FORWARDER_DEFAULTS,
  type RemoteForwarderOptions,
  type RemoteForwarderEvents,
} from './services/remote-forwarder';
export {
  createTcpInlet,
  createTcpOutlet,
  TcpInlet,
  TcpOutlet,
  PortalError,
  PORTAL_ERROR_CODES,
  PORTAL_DEFAULTS,
  PORTAL_VERSION,
  type TcpInletOptions,
  type TcpOutletOptions,
  type PortalAccess,
  type PortalErrorCode,
  type PortalSessionOptions,
  type PortalEvents,
  type PortalStats,
  type SessionInfo,
} from './services/portal';

// federation (hubs that act as one, on NATS JetStream: docs/federation.md)
export {
  Federation,
  FEDERATION_DEFAULTS,
  startFederatedHub,
  FailoverForwarder,
  FAILOVER_DEFAULTS,
  FederationError,
  connectNats,
  hubPermissions,
  inboxPrefixOf,
  type FederationOptions,
  type FederationStats,
  type FederationLosses,
  type FederatedHub,
  type FederatedHubOptions,
  type FailoverForwarderOptions,
  type FailoverForwarderEvents,
  type FederationBus,
  type NatsConnectOptions,
  type FederationErrorCode,
  type FederatedClaim,
} from './federation';
// credentials, authorities and attribute-based access control
export {
  TrustCredential,
  TrustedAuthorities,
  PeerCredentials,
  CredentialError,
  PolicyExpressionError,
  CREDENTIAL_ERROR_CODES,
  IDENTITY_ERROR_CODES,
  type IdentityErrorCode,
  CREDENTIAL_LIMITS,
  CREDENTIAL_VERSION,
  DEFAULT_CLOCK_SKEW_MS,
  MAX_PRESENTED_CREDENTIALS,
  POLICY_LIMITS,
  authorityOf,
  decodeCredential,
  fixedCredentials,
  issueCredential,
  parsePolicy,
  type Attributes,
  type Authority,
  type Credential,
  type CredentialErrorCode,
  type CredentialProvider,
  type PolicyEnvironment,
  type PolicyExpression,
  type TrustCredentialOptions,
  type VerifiedCredential,
  type VerifyOptions,
} from './identity';
export { requireAttributes, requirePolicy, remoteAttributesOf, type AttributeRuleOptions } from './channel';
export {
  AuthorityService,
  AUTHORITY_DEFAULTS,
  ENROLLER_ATTRIBUTE,
  type AuthorityOptions,
  type AuthorityStats,
  type NewTicket,
  type TicketOptions,
} from './services/authority';
export { AuthorityClient, type AuthorityClientOptions } from './services/authority-client';
export { AuthorityError, type AuthorityErrorCode } from './services/authority-errors';
export {
  AUTHORITY_REFUSAL_CODES,
  type AuthorityRefusalCode,
  type MemberInfo,
} from './services/authority-messages';
export { EnrollmentTicket } from './services/enrollment-ticket';
export { joinWithTicket, type JoinOptions, type Membership } from './services/enrollment';
export { MemberCredentials, type MemberCredentialsOptions } from './services/member-credentials';
export { relayAdmission, RELAY_ATTRIBUTE } from './services/relay-admission';
