import { TransportError } from '../errors';

/** A parsed `host:port` (IPv6 hosts are written in brackets: `[::1]:4000`). */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port`; the port may be 0 only when `allowZero` (listening on any free port). */
export function parseHostPort(text: string, allowZero = false): HostPort {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) throw invalid(text, 'expected host:port');
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  else if (host.includes(':')) throw invalid(text, 'IPv6 hosts must be in brackets');
  if (host.length === 0 || host.length > 253) throw invalid(text, 'bad host');
  if (!/^\d{1,5}$/.test(portText)) throw invalid(text, 'bad port');
  const port = Number(portText);
  if (port > 65535 || (port === 0 && !allowZero)) throw invalid(text, `port ${port} out of range`);
  return { host, port };
}

/**
 * Formats a host and port as `host:port`, bracketing IPv6 hosts (the only hosts with a colon: no name or
 * IPv4 address has one; no `node:net` here, so that this runs in a browser too).
 */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function invalid(text: string, why: string): TransportError {
  return new TransportError('INVALID_ADDRESS', `invalid TCP address ${JSON.stringify(text)}: ${why}`);
}
