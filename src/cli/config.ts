/**
 * The declarative node: `sealroute node start --config node.yaml`. The file is YAML, checked against the
 * schema below (zod); every error names the file, the line and column, and the field. `configReference()`
 * renders the schema as the reference in docs/operations.md (a test keeps the two equal).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { CliError } from './output';
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

const trust = z
  .union([z.enum(['any-identity', 'everyone']), z.array(identifier).min(1)])
  .describe(
    'Whom the listener accepts: `any-identity` (any peer that proves an identity), `everyone` (anonymous ' +
      'peers too: tests and demos only), or a list of identifiers. Reloaded on SIGHUP.',
  );

const access = z
  .union([z.enum(['secure-channel', 'all']), z.object({ identifiers: z.array(identifier).min(1) }).strict()])
  .describe(
    'Who may send to the worker: `secure-channel` (only messages that came through a secure channel), `all` ' +
      '(anything, plain transport messages included), or `{ identifiers: [...] }` (only through channels ' +
      'from those identities).',
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
    hub: z
      .object({
        statePath: z
          .string()
          .optional()
          .describe('A file keeping the forwarder table (names bound to identities) across restarts.'),
      })
      .strict()
      .optional()
      .describe('Run a forwarding service (`forwarding_service`): this node is a hub.'),
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
            hub: hostPort.describe("The hub's TCP address."),
            name: name
              .optional()
              .describe(
                'A name bound to this identity at the hub (`fwd.n.<name>`). Default: a random address.',
              ),
            to: workerAddress.default('listener').describe('The local address the relay delivers to.'),
          })
          .strict(),
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

/** `path` as a field name: `relays[0].hub`. */
function fieldName(path: readonly (string | number)[]): string {
  return path.reduce<string>(
    (text, key) => (typeof key === 'number' ? `${text}[${key}]` : text === '' ? key : `${text}.${key}`),
    '',
  );
}

/** The YAML node at `path`, else its nearest ancestor that exists. */
function nodeAt(
  doc: ReturnType<typeof parseDocument>,
  path: readonly (string | number)[],
): YamlNode | undefined {
  for (let length = path.length; length >= 0; length--) {
    const found = doc.getIn(path.slice(0, length), true);
    if (found !== undefined && found !== null && typeof found === 'object' && 'range' in (found as object)) {
      return found as YamlNode;
    }
  }
  return doc.contents ?? undefined;
}

/** The key node of `key` in the map at `path` (for unknown keys). */
function keyNode(
  doc: ReturnType<typeof parseDocument>,
  path: readonly (string | number)[],
  key: string,
): YamlNode | undefined {
  const map = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (!isMap(map)) return undefined;
  for (const item of map.items) {
    if (isPair(item) && isScalar(item.key) && item.key.value === key) return item.key;
  }
  return undefined;
}

/**
 * Parses and checks a configuration text. `file` names it in errors (`node.yaml:7:5: relays[0].hub: ...`);
 * every problem is listed, one a line. Throws `CliError` `CONFIG`.
 */
export function parseNodeConfig(text: string, file: string): NodeConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const where = (offset: number | undefined): string => {
    if (offset === undefined) return `${file}`;
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((error) => `${where(error.pos[0])}: ${error.message.split('\n')[0]}`);
    throw new CliError('CONFIG', `invalid YAML in ${file}: ${lines.join('; ')}`);
  }
  const value: unknown = doc.toJS() ?? {};
  const result = nodeConfigSchema.safeParse(value);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return issue.keys
          .map((key) => {
            const node = keyNode(doc, issue.path, key);
            return `${where(node?.range?.[0])}: ${fieldName([...issue.path, key])}: unknown field`;
          })
          .join('; ');
      }
      const node = nodeAt(doc, issue.path);
      const field = fieldName(issue.path) || '(top level)';
      return `${where(node?.range?.[0])}: ${field}: ${issue.message}`;
    });
    throw new CliError('CONFIG', lines.join('; '));
  }
  const base = file === '<flags>' ? process.cwd() : dirname(resolve(file));
  const config = result.data;
  const passphraseFile = config.vault?.passphraseFile;
  return {
    ...config,
    file: file === '<flags>' ? undefined : resolve(file),
    vault: passphraseFile === undefined ? config.vault : { passphraseFile: resolve(base, passphraseFile) },
    hub:
      config.hub?.statePath === undefined ? config.hub : { statePath: resolve(base, config.hub.statePath) },
    workers: config.workers.map((worker) =>
      worker.module === undefined ? worker : { ...worker, module: resolve(base, worker.module) },
    ),
    control:
      config.control?.socket === undefined
        ? config.control
        : { socket: resolve(base, config.control.socket) },
  };
}

/** Reads and checks a configuration file (see `parseNodeConfig`). */
export function loadNodeConfig(file: string): NodeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new CliError('CONFIG', `cannot read ${file}`, { cause });
  }
  return parseNodeConfig(text, file);
}

// ---- the reference (docs/operations.md) ----

type Def = { typeName: string; [key: string]: unknown };
const defOf = (schema: z.ZodTypeAny): Def => schema._def as Def;

/** A short type name for the reference. */
function typeText(schema: z.ZodTypeAny): string {
  const def = defOf(schema);
  switch (def.typeName) {
    case 'ZodOptional':
    case 'ZodDefault':
    case 'ZodEffects':
      return typeText((def.innerType ?? def.schema) as z.ZodTypeAny);
    case 'ZodString':
      return 'string';
    case 'ZodEnum':
      return (def.values as string[]).map((v) => `\`${v}\``).join(' \\| ');
    case 'ZodArray':
      return `list of ${typeText(def.type as z.ZodTypeAny)}`;
    case 'ZodObject':
      return 'map';
    case 'ZodUnion':
      return (def.options as z.ZodTypeAny[]).map(typeText).join(' \\| ');
    default:
      return def.typeName.replace(/^Zod/, '').toLowerCase();
  }
}

function defaultText(schema: z.ZodTypeAny): string {
  const def = defOf(schema);
  if (def.typeName === 'ZodDefault') return `\`${JSON.stringify((def.defaultValue as () => unknown)())}\``;
  if (def.typeName === 'ZodOptional') return 'optional';
  return 'required';
}

/** The object schema inside wrappers and lists, if any. */
function objectInside(schema: z.ZodTypeAny): z.AnyZodObject | undefined {
  const def = defOf(schema);
  switch (def.typeName) {
    case 'ZodOptional':
    case 'ZodDefault':
    case 'ZodEffects':
      return objectInside((def.innerType ?? def.schema) as z.ZodTypeAny);
    case 'ZodArray':
      return objectInside(def.type as z.ZodTypeAny);
    case 'ZodObject':
      return schema as z.AnyZodObject;
    default:
      return undefined;
  }
}

/** The configuration reference as a Markdown table, generated from the schema. */
export function configReference(): string {
  const rows: string[] = ['| field | type | default | meaning |', '| --- | --- | --- | --- |'];
  const walk = (object: z.AnyZodObject, prefix: string): void => {
    for (const [key, field] of Object.entries(object.shape as Record<string, z.ZodTypeAny>)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const inner = objectInside(field);
      const isList = typeText(field).startsWith('list of');
      rows.push(
        `| \`${path}\` | ${typeText(field)} | ${defaultText(field)} | ${(field.description ?? '').replace(/\|/g, '\\|')} |`,
      );
      if (inner !== undefined) walk(inner, isList ? `${path}[]` : path);
    }
  };
  walk(nodeConfigSchema, '');
  return rows.join('\n');
}
