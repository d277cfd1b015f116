import { CONNECTION_DEFAULTS, resolveConnectionOptions, type ConnectionOptions } from '../connection-options';

/** How a `TcpTransport` behaves: the options every stream transport shares (see `ConnectionOptions`). */
export type TcpTransportOptions = ConnectionOptions;

/** The defaults of every `TcpTransportOptions` field. */
export const TCP_DEFAULTS: Required<TcpTransportOptions> = CONNECTION_DEFAULTS;

/** The options with defaults filled in and checked. */
export function resolveTcpOptions(options: TcpTransportOptions = {}): Required<TcpTransportOptions> {
  return resolveConnectionOptions(options, 'TcpTransportOptions');
}
