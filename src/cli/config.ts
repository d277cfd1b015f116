/**
 * The declarative node: `sealroute node start --config node.yaml`. The file is YAML, checked against the
 * schema in config-schema.ts (zod); every error names the file, the line and column, and the field.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Node as YamlNode } from 'yaml';
import { nodeConfigSchema, type NodeConfig } from './config-schema';
import { CliError } from './output';

export type { NodeConfig } from './config-schema';

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
      config.hub === undefined
        ? undefined
        : {
            ...config.hub,
            statePath: pathFrom(base, config.hub.statePath),
            authorities: config.hub.authorities.map((ref) => authorityFrom(base, ref)),
            federation:
              config.hub.federation === undefined
                ? undefined
                : {
                    ...config.hub.federation,
                    passwordFile: pathFrom(base, config.hub.federation.passwordFile),
                  },
          },
    authority:
      config.authority === undefined
        ? undefined
        : { ...config.authority, statePath: pathFrom(base, config.authority.statePath) },
    authorities: config.authorities.map((ref) => authorityFrom(base, ref)),
    secureChannelListeners: config.secureChannelListeners.map((entry) =>
      typeof entry.trust === 'object' && !Array.isArray(entry.trust)
        ? {
            ...entry,
            trust: {
              credential: {
                ...entry.trust.credential,
                authority: authorityFrom(base, entry.trust.credential.authority),
              },
            },
          }
        : entry,
    ),
    workers: config.workers.map((worker) =>
      worker.module === undefined ? worker : { ...worker, module: resolve(base, worker.module) },
    ),
    control:
      config.control?.socket === undefined
        ? config.control
        : { socket: resolve(base, config.control.socket) },
  };
}

const pathFrom = (base: string, path: string | undefined): string | undefined =>
  path === undefined ? undefined : resolve(base, path);

/** An authority reference that names a file is read relative to the config file; others stay as they are. */
const authorityFrom = (base: string, ref: string): string =>
  /[/\\]|\.json$/.test(ref) ? resolve(base, ref) : ref;

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
