import type { StreamConnection } from '../stream-connection';
import type { ConnectionInfo } from '../transport';

/** A connection of a `TcpTransport`: a `StreamConnection` over a TCP socket. */
export type TcpConnection = StreamConnection;

/** What a TCP transport puts in `localInfo[TRANSPORT_INFO]` of every message it receives. */
export type TcpTransportInfo = ConnectionInfo;
