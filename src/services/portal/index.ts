/**
 * TCP portals: unmodified TCP clients and servers connected through a secure channel. An outlet, next to
 * the server, takes sessions from the channel peers its access rule admits; an inlet, next to the clients,
 * listens on a local port and carries each connection to the outlet (docs/PROTOCOL.md 5).
 */
export { createTcpInlet, TcpInlet, type TcpInletOptions } from './tcp-inlet';
export { createTcpOutlet, TcpOutlet, type TcpOutletOptions, type PortalAccess } from './tcp-outlet';
export { PortalError, PORTAL_ERROR_CODES, type PortalErrorCode } from './errors';
export { PORTAL_DEFAULTS, type PortalSessionOptions } from './options';
export type { PortalEvents, PortalStats, SessionInfo } from './session-host';
export { PORTAL_VERSION, RESET_REASONS, MAX_DATA_BYTES, type ResetReason } from './messages';
