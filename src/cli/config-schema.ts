/**
 * The schema of a declarative node's file (`sealroute node start --config node.yaml`), in zod. config.ts
 * parses files against it; config-reference.ts renders it as the reference in docs/operations.md.
 */
import { z } from 'zod';
import { parseRouteText } from './route-text';

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const IDENTIFIER = /^I[0-9a-f]{40}$/;

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'expected host:port');
const name = z.string().regex(NAME, 'expected 1..64 of A-Z a-z 0-9 _ -');
const identifier = z.string().regex(IDENTIFIER, 'expected an identifier: I and 40 hex digits');
const workerAddress = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^\s/]+$/, 'expected an address without spaces or /');

/** `host:port`, and for WebSocket an optional path: `127.0.0.1:4001/sealroute`. */
const wsAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}(\/[^\s]*)?$/, 'expected host:port or host:port/path');

/**
 * An authority, as `sealroute` names one: its public key (64 hex digits), its identifier or name when this
 * config directory knows it (`authority start` and `enroll` record it), or a file `authority start` wrote.
 */
const authorityRef = z.string().min(1).max(4096);
const natsUrl = z
  .string()
  .regex(
    /^(nats|tls):\/\/[^\s/@]+$/,
    'expected nats://host:port or tls://host:port (credentials go in user / passwordFile)',
  );

const attributes = z.record(z.string().min(1).max(128), z.string().max(1024));

/** A credential a peer must present: from this authority, with these attributes (and this policy). */
const credentialTrust = z
  .object({
    credential: z
      .object({ authority: authorityRef, attributes: attributes.default({}), policy: z.string().optional() })
      .strict(),
  })
  .strict();

const trust = z
  .union([z.enum(['any-identity', 'everyone']), z.array(identifier).min(1), credentialTrust])
  .describe(
    'Whom the listener accepts: `any-identity` (any peer that proves an identity), `everyone` (anonymous ' +
      'peers too: tests and demos only), a list of identifiers, or `{ credential: { authority, attributes, ' +
      'policy } }` (a peer presenting a credential from that authority with those attributes). Reloaded on SIGHUP.',
  );

const access = z
  .union([
    z.enum(['secure-channel', 'all']),
    z.object({ identifiers: z.array(identifier).min(1) }).strict(),
    z.object({ attributes }).strict(),
  ])
  .describe(
    'Who may send to the worker: `secure-channel` (only messages that came through a secure channel), `all` ' +
      '(anything, plain transport messages included), `{ identifiers: [...] }` (only through channels ' +
      'from those identities), or `{ attributes: { k: v } }` (only through channels whose peer presented a ' +
      "credential giving those attributes, from an authority in `authorities` or the listener's trust).",
  );

/** Whether `text` is a typed route that opens a secure channel (what a portal inlet needs). */
function routeWithChannel(text: string): boolean {
  try {
    return parseRouteText(text).some((step) => step.kind === 'secure');
  } catch {
    return false;
  }
}

/** The schema of a node's configuration file. */
export const nodeConfigSchema = z
  .object({
    name: name
      .optional()
      .describe(
        'The node name: its control socket is `<config dir>/run/<name>.sock`. Default: the identity name.',
      ),
    identity: name
      .optional()
      .describe(
        'The identity (a vault under `<config dir>/vaults/`) the node runs as; made if missing. Default: the default identity.',
      ),
    vault: z
      .object({
        passphraseFile: z
          .string()
          .optional()
          .describe(
            'A file whose first line unlocks the vault (relative to the config file). Default: `$SEALROUTE_PASSPHRASE`, else the key file beside the vault.',
          ),
      })
      .strict()
      .optional()
      .describe('How the identity vault is unlocked.'),
    tcp: z
      .object({
        listen: z
          .array(hostPort)
          .default([])
          .describe('Addresses to accept TCP connections on (`127.0.0.1:0` picks a port).'),
      })
      .strict()
      .optional()
      .describe('The TCP transport (always present; this section adds listeners).'),
    ws: z
      .object({
        listen: z
          .array(wsAddress)
          .default([])
          .describe('Addresses to accept WebSocket connections on (`127.0.0.1:0` picks a port).'),
      })
      .strict()
      .optional()
      .describe('A WebSocket transport (`WS` hops, `/ws/host:port` in typed routes) with these listeners.'),
    hub: z
      .object({
        statePath: z
          .string()
          .optional()
          .describe('A file keeping the forwarder table (names bound to identities) across restarts.'),
        authorities: z
          .array(authorityRef)
          .default([])
          .describe(
            'Admit a forwarder only for a name bound to an identity whose credential from one of these authorities gives `relay=<name>` (or `relay=*`). Empty: anyone may register.',
          ),
        federation: z
          .object({
            nats: z
              .array(natsUrl)
              .min(1)
              .describe('NATS servers of one cluster (the client fails over among them).'),
            name: name
              .optional()
              .describe("This hub's name in the federation (its NATS subject). Default: the node name."),
            user: z
              .string()
              .min(1)
              .optional()
              .describe('The NATS user (docs/federation.md: one per hub, with permissions).'),
            passwordFile: z
              .string()
              .optional()
              .describe("A file whose first line is the NATS user's password (relative to the config file)."),
            replicas: z
              .number()
              .int()
              .min(1)
              .max(5)
              .optional()
              .describe('Replicas of the bucket of names: 3 in a 3-node cluster. Default 1.'),
          })
          .strict()
          .optional()
          .describe(
            'Join a federation of hubs on NATS JetStream (docs/federation.md): names bound to identities are claimed federation-wide, and any hub reaches a name held at another. Names must then be bound.',
          ),
      })
      .strict()
      .optional()
      .describe('Run a forwarding service (`forwarding_service`): this node is a hub.'),
    authority: z
      .object({
        statePath: z
          .string()
          .optional()
          .describe(
            'The member table and unused tickets (JSON, each change on disk before it is answered). Default: `<config dir>/authorities/<identity>.members.json`.',
          ),
        enrollers: z
          .array(z.string().min(1))
          .default([])
          .describe(
            'Members made enrollers at every start (they make tickets, add and remove members): identifiers, or names of identities in this config directory.',
          ),
        credentialTtlSeconds: z
          .number()
          .int()
          .min(1)
          .max(365 * 24 * 3600)
          .optional()
          .describe(
            'How long the credentials it issues are valid. Default one hour (members renew them halfway).',
          ),
      })
      .strict()
      .optional()
      .describe(
        'Run an authority (`authority`, behind the listener `authority_listener`): it vouches for its members in credentials; nodes enroll with tickets.',
      ),
    authorities: z
      .array(authorityRef)
      .default([])
      .describe(
        "Authorities whose credentials this node's secure channels (listeners and the channels it opens) accept from peers.",
      ),
    credential: z
      .enum(['enrolled', 'none'])
      .default('enrolled')
      .describe(
        "`enrolled`: present the identity's credential from `sealroute enroll` (if there is one) in secure channels and relay registrations, renewed from its authority before it expires. `none`: present none.",
      ),
    secureChannelListeners: z
      .array(
        z
          .object({
            address: workerAddress.describe('The listener address.'),
            trust: trust.default('any-identity'),
          })
          .strict(),
      )
      .default([])
      .describe('Secure channel listeners.'),
    relays: z
      .array(
        z
          .object({
            hub: hostPort.optional().describe("The hub's TCP address (or `hubs`)."),
            hubs: z
              .array(hostPort)
              .min(2)
              .optional()
              .describe(
                'Hubs of one federation to fail over among (a host name stands for all its addresses, resolved again at each round); needs `name`.',
              ),
            name: name
              .optional()
              .describe(
                'A name bound to this identity at the hub (`fwd.n.<name>`). Default: a random address.',
              ),
            to: workerAddress.default('listener').describe('The local address the relay delivers to.'),
          })
          .strict()
          .refine((relay) => (relay.hub === undefined) !== (relay.hubs === undefined), {
            message: 'give either hub or hubs',
          })
          .refine((relay) => relay.hubs === undefined || relay.name !== undefined, {
            message: 'a relay with several hubs needs a name (it fails over by its name)',
          }),
      )
      .default([])
      .describe('Forwarders registered at hubs, so that peers reach this node through them.'),
    workers: z
      .array(
        z
          .object({
            address: workerAddress.describe('The worker address.'),
            builtin: z
              .enum(['echoer'])
              .optional()
              .describe('A built-in worker: `echoer` replies with what it receives.'),
            module: z
              .string()
              .optional()
              .describe(
                'A JavaScript module (relative to the config file) exporting the worker: a class (decorated with `@Worker()` or not) or an object with `handleMessage`.',
              ),
            export: z
              .string()
              .optional()
              .describe("The module's export to use. Default: `default`, else the only export."),
            access: access.default('secure-channel'),
          })
          .strict()
          .refine((worker) => (worker.builtin === undefined) !== (worker.module === undefined), {
            message: 'give exactly one of builtin and module',
          }),
      )
      .default([])
      .describe('Workers the node starts.'),
    tcpOutlets: z
      .array(
        z
          .object({
            address: workerAddress.describe(
              'The outlet address: inlets reach it at the end of their route (`/service/<address>`).',
            ),
            target: hostPort.describe('The TCP service it connects to (fixed here: no client chooses it).'),
            access: z
              .union([z.literal('any-identity'), z.array(identifier).min(1)])
              .describe(
                'Who may open sessions: a list of identifiers, or `any-identity` (any authenticated channel peer). Required.',
              ),
          })
          .strict(),
      )
      .default([])
      .describe('TCP portal outlets: this node connects to a TCP service for the channel peers it admits.'),
    tcpInlets: z
      .array(
        z
          .object({
            listen: hostPort.describe('Where local TCP clients connect (`127.0.0.1:0` picks a port).'),
            to: z
              .string()
              .refine(
                routeWithChannel,
                'expected a route through a secure channel, like /tcp/h:p/relay/I…@fwd.n.bob/service/postgres',
              )
              .describe('The route to the outlet, through a secure channel (opened when the node starts).'),
          })
          .strict(),
      )
      .default([])
      .describe('TCP portal inlets: local TCP clients carried to an outlet through a secure channel.'),
    tracing: z
      .boolean()
      .default(false)
      .describe(
        'Carry OpenTelemetry trace context (W3C `traceparent`) across hops and open spans for it, with the global tracer of `@opentelemetry/api`: spans are recorded only if an SDK is registered, say by `NODE_OPTIONS=--require=./otel.js` (see Tracing below).',
      ),
    control: z
      .object({
        socket: z
          .string()
          .optional()
          .describe('The control socket path (mode 0600). Default: `<config dir>/run/<name>.sock`.'),
      })
      .strict()
      .optional()
      .describe('The local control socket `sealroute status` talks to.'),
    metrics: z
      .object({
        listen: hostPort
          .default('127.0.0.1:9464')
          .describe(
            'Where `/metrics`, `/healthz` and `/readyz` are served. Keep it on loopback unless a firewall guards it.',
          ),
      })
      .strict()
      .optional()
      .describe('The Prometheus endpoint (off unless this section is present).'),
  })
  .strict();

/** A node's configuration, checked, with paths resolved against the config file's directory. */
export type NodeConfig = z.infer<typeof nodeConfigSchema> & { readonly file: string | undefined };
