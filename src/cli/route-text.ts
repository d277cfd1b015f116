/**
 * Routes typed in a shell, in the style of Ockam's multiaddrs:
 *
 *   /tcp/127.0.0.1:4000/relay/I…@fwd.n.bob/service/echoer
 *
 * - `/tcp/<host:port>`: a TCP hop (connects on first use);
 * - `/ws/<host:port>`: a WebSocket hop (`ws://host:port/`), say to a hub that takes browsers too;
 * - `/service/<address>`: a worker (or forwarder, or listener) address on the node reached so far;
 * - `/secure/<identifier>`: a secure channel to the listener reached so far, trusting exactly that identity
 *   (`/secure/any-identity` accepts any proven identity, for tests); what follows travels through it;
 * - `/relay/<forwarding address>`: `/service/<forwarder>/secure/<identifier>` from a forwarding address that
 *   `sealroute relay create` or a node printed.
 */
import { CliError } from './output';

/** One step of a typed route: hops to append, or a secure channel to open over the route so far. */
export type RouteStep =
  | { readonly kind: 'tcp'; readonly hostPort: string }
  | { readonly kind: 'ws'; readonly hostPort: string }
  | { readonly kind: 'service'; readonly address: string }
  | { readonly kind: 'secure'; readonly trust: string };

const IDENTIFIER = /^I[0-9a-f]{40}$/;
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/;
/** A typed route longer than this is refused (a route has at most 64 hops anyway). */
const MAX_ROUTE_TEXT = 4096;

/** Parses a typed route; throws `CliError` `USAGE` naming the bad segment. */
export function parseRouteText(text: string): RouteStep[] {
  if (text.length > MAX_ROUTE_TEXT)
    throw new CliError('USAGE', `a route is at most ${MAX_ROUTE_TEXT} characters`);
  if (!text.startsWith('/')) {
    throw new CliError(
      'USAGE',
      `a route starts with /, like /tcp/127.0.0.1:4000/service/echoer (got "${text}")`,
    );
  }
  const parts = text.slice(1).split('/');
  const steps: RouteStep[] = [];
  for (let i = 0; i < parts.length; i += 2) {
    const kind = parts[i]!;
    const value = parts[i + 1];
    if (value === undefined || value === '')
      throw new CliError('USAGE', `route segment /${kind} needs a value`);
    switch (kind) {
      case 'tcp':
      case 'ws':
        if (!HOST_PORT.test(value)) throw new CliError('USAGE', `/${kind}/${value}: expected host:port`);
        steps.push({ kind, hostPort: value });
        break;
      case 'service':
        steps.push({ kind: 'service', address: value });
        break;
      case 'secure':
        if (value !== 'any-identity' && !IDENTIFIER.test(value)) {
          throw new CliError(
            'USAGE',
            `/secure/${value}: expected an identifier (I and 40 hex digits) or any-identity`,
          );
        }
        steps.push({ kind: 'secure', trust: value });
        break;
      case 'relay': {
        const at = value.indexOf('@');
        const identifier = value.slice(0, at);
        const forwarder = value.slice(at + 1);
        if (at < 0 || !IDENTIFIER.test(identifier) || forwarder === '') {
          throw new CliError(
            'USAGE',
            `/relay/${value}: expected a forwarding address <identifier>@<forwarder>`,
          );
        }
        steps.push({ kind: 'service', address: forwarder }, { kind: 'secure', trust: identifier });
        break;
      }
      default:
        throw new CliError(
          'USAGE',
          `unknown route segment /${kind} (expected tcp, ws, service, secure or relay)`,
        );
    }
  }
  return steps;
}
