import type { Logger } from '../../node/logger';
import type { ThrottledLog } from '../../node/throttled-log';
import type { PortalError, PortalErrorCode } from './errors';
import type { SessionLimits } from './options';
import type { PortalSession } from './portal-session';

/** Counters of an inlet or an outlet. */
export interface PortalStats {
  /** Sessions that opened (the target accepted the connection). */
  sessionsOpened: number;
  /** Sessions that exist now, opening or open. */
  sessionsActive: number;
  /** Sessions that ended, cleanly or not. */
  sessionsClosed: number;
  /** Stream bytes read from local TCP connections and sent through the portal. */
  bytesSent: number;
  /** Stream bytes received through the portal and written to local TCP connections. */
  bytesReceived: number;
  /** Sessions that ended with an error, by its code (a clean close, FIN both ways, is not counted here). */
  errors: Partial<Record<PortalErrorCode, number>>;
  /** Limits that were hit, each also logged (throttled). */
  limits: {
    /** A connection or an OPEN refused because `maxSessions` were open. */
    sessions: number;
    /** An OPEN refused because its channel had `maxSessionsPerChannel` open (outlet). */
    sessionsPerChannel: number;
    /** A session reset because the other end sent more than the window it was granted. */
    windowExceeded: number;
    /** A session reset after `idleTimeoutMs` without traffic. */
    idleTimeout: number;
  };
}

export function newStats(): PortalStats {
  return {
    sessionsOpened: 0,
    sessionsActive: 0,
    sessionsClosed: 0,
    bytesSent: 0,
    bytesReceived: 0,
    errors: {},
    limits: { sessions: 0, sessionsPerChannel: 0, windowExceeded: 0, idleTimeout: 0 },
  };
}

/** What the events of an inlet or outlet say about one session. */
export interface SessionInfo {
  /** The session's address on this node (`~pi.…` at an inlet, `~po.…` at an outlet). */
  readonly id: string;
  /** The channel peer's identifier, at an outlet; undefined at an inlet. */
  readonly remoteIdentifier: string | undefined;
  /** The local TCP peer, `host:port`. */
  readonly remote: string;
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

/** Events of an inlet or an outlet. */
export interface PortalEvents {
  /** A session opened: the outlet connected to its target. */
  sessionOpened: [SessionInfo];
  /** A session ended: `error` undefined when both sides finished (FIN both ways), else why it did not. */
  sessionClosed: [SessionInfo, PortalError | undefined];
  /** A connection (inlet) or an OPEN (outlet) was refused before it became a session (limits, version). */
  refused: [PortalError];
}

/** What a session needs from the inlet or outlet that owns it. */
export interface SessionHost {
  readonly side: 'inlet' | 'outlet';
  readonly limits: SessionLimits;
  readonly stats: PortalStats;
  readonly logger: Logger;
  readonly peerLog: ThrottledLog;
  opened(session: PortalSession): void;
  ended(session: PortalSession, error: PortalError | undefined): void;
  /** A notice said the session's channel is closed: every session through it is over. */
  channelGone(channelKey: string, error: PortalError): void;
}
