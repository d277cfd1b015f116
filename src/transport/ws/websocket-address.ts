import { TransportError } from '../errors';
import { formatHostPort, parseHostPort } from '../tcp/host-port';

/** A parsed WebSocket hop: `host:port/path` (IPv6 hosts in brackets). */
export interface WebSocketTarget {
  readonly host: string;
  readonly port: number;
  /** Starts with `/`; `/` when the hop names none. */
  readonly path: string;
}

/** The longest path a WebSocket hop may name. */
const MAX_PATH = 256;
/** The characters of a URL path, and nothing that would need escaping or start a query or fragment. */
const PATH_CHARS = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;

/** Parses `host:port/path` (the path optional); the port may be 0 only when `allowZero` (listening). */
export function parseWebSocketTarget(text: string, allowZero = false): WebSocketTarget {
  const slash = text.indexOf('/', text.startsWith('[') ? text.indexOf(']') : 0);
  const hostPort = slash < 0 ? text : text.slice(0, slash);
  const path = slash < 0 ? '/' : text.slice(slash);
  if (path.length > MAX_PATH || !PATH_CHARS.test(path)) {
    throw new TransportError(
      'INVALID_ADDRESS',
      `invalid WebSocket address ${JSON.stringify(text)}: bad path`,
    );
  }
  const { host, port } = parseHostPort(hostPort, allowZero);
  return { host, port, path };
}

/** The canonical text of a target: `host:port/path`, or `host:port` when the path is `/`. */
export function formatWebSocketTarget(target: WebSocketTarget): string {
  const hostPort = formatHostPort(target.host, target.port);
  return target.path === '/' ? hostPort : hostPort + target.path;
}

/** The URL a client opens for a target. */
export function webSocketUrl(target: WebSocketTarget, secure: boolean): string {
  return `${secure ? 'wss' : 'ws'}://${formatHostPort(target.host, target.port)}${target.path}`;
}
