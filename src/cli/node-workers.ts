/**
 * The parts of a declarative node that its file names by word: trust policies, access rules, the built-in
 * echoer, and workers loaded from modules.
 */
import {
  TrustAnyIdentity,
  TrustEveryone,
  TrustIdentifier,
  TrustCredential,
  allowAll,
  requireAttributes,
  fromSecureChannel,
  type AccessRule,
  type NodeRuntime,
  type TrustPolicy,
  type Worker,
} from '../index';
import type { NodeConfig } from './config';
import { resolveAuthority } from './authorities';
import { CliError } from './output';

type Trust = NodeConfig['secureChannelListeners'][number]['trust'];

/** The trust policy a configuration entry names. */
export function trustPolicy(trust: Trust): TrustPolicy {
  if (trust === 'any-identity') return TrustAnyIdentity;
  if (trust === 'everyone') return TrustEveryone;
  if (Array.isArray(trust)) return TrustIdentifier(...trust);
  const { authority, attributes, policy } = (trust as Exclude<Trust, string | readonly string[]>).credential;
  return TrustCredential({
    authority: resolveAuthority(authority).publicKey,
    attributes,
    ...(policy === undefined ? {} : { policy }),
  });
}

/** A listener's trust as people read it. */
export function trustText(trust: Trust): string {
  if (typeof trust === 'string' || Array.isArray(trust)) return trust.toString();
  const { authority, attributes } = (trust as Exclude<Trust, string | readonly string[]>).credential;
  const wanted = Object.entries(attributes).map(([key, value]) => `${key}=${value}`);
  return `a credential from ${authority}${wanted.length === 0 ? '' : ` giving ${wanted.join(', ')}`}`;
}

function accessRule(access: NodeConfig['workers'][number]['access']): AccessRule {
  if (access === 'all') return allowAll;
  if (access === 'secure-channel') return fromSecureChannel();
  if ('attributes' in access) return requireAttributes(access.attributes);
  return fromSecureChannel(access.identifiers);
}

/** The built-in echoer: replies with what it receives. */
const echoer = (): Worker<unknown> => ({
  async handleMessage(ctx, message) {
    await ctx.send(message.returnRoute, message.body);
  },
});

/** Loads a worker from a module: a class (decorated or not) or an object with `handleMessage`. */
function loadWorkerExport(module: string, exportName: string | undefined): unknown {
  let loaded: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(module) as Record<string, unknown>;
  } catch (cause) {
    throw new CliError('CONFIG', `cannot load the worker module ${module}`, { cause });
  }
  if (exportName !== undefined) {
    if (!(exportName in loaded)) throw new CliError('CONFIG', `${module} has no export "${exportName}"`);
    return loaded[exportName];
  }
  if (typeof loaded === 'function' || 'handleMessage' in loaded) return loaded;
  if ('default' in loaded) return loaded.default;
  const names = Object.keys(loaded);
  if (names.length === 1) return loaded[names[0]!];
  throw new CliError('CONFIG', `${module} exports ${names.join(', ')}: name one with "export"`);
}

function hasWorkerMetadata(target: unknown): boolean {
  // `@Worker()` records its options under this registry symbol (di/decorators.ts); a plain class has none.
  return Reflect.hasMetadata(Symbol.for('sealroute:worker'), target as object);
}

/** Starts a worker the configuration declares: the built-in echoer, or one loaded from a module. */
export async function startConfiguredWorker(
  node: NodeRuntime,
  worker: NodeConfig['workers'][number],
): Promise<void> {
  const access = accessRule(worker.access);
  if (worker.builtin === 'echoer') {
    await node.startWorker(worker.address, echoer(), { access });
    return;
  }
  const exported = loadWorkerExport(worker.module!, worker.export);
  if (typeof exported === 'function') {
    if (hasWorkerMetadata(exported)) {
      await node.startWorker(exported as never, { address: worker.address, access });
    } else {
      const instance = new (exported as new () => Worker<unknown>)();
      await node.startWorker(worker.address, instance, { access });
    }
  } else if (typeof exported === 'object' && exported !== null && 'handleMessage' in exported) {
    await node.startWorker(worker.address, exported as Worker<unknown>, { access });
  } else {
    throw new CliError(
      'CONFIG',
      `${worker.module}: the export is neither a worker class nor a worker object`,
    );
  }
}
