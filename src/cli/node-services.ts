/**
 * The services a declarative node may run besides its workers: a hub's forwarding service (admitting
 * forwarders by credential when it names authorities, federated on NATS when it says so) and an authority
 * behind its listener.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  AuthorityService,
  ForwardingService,
  InMemoryVault,
  TrustAnyIdentity,
  TrustedAuthorities,
  createSecureChannelListener,
  inboxPrefixOf,
  relayAdmission,
  startFederatedHub,
  type RegistrationAdmission,
  type Context,
  type Identity,
} from '../index';
import { recordedIdentifier } from './identities';
import { rememberAuthority, resolveAuthority, type KnownAuthority } from './authorities';
import type { NodeConfig } from './config';
import { AUTHORITY_LISTENER, AUTHORITY_SERVICE } from './node-credentials';
import { CliError } from './output';
import { configDir } from './paths';

/** The public keys of the authorities `refs` name (see `resolveAuthority`). */
export function authorityKeys(refs: readonly string[]): string[] {
  return refs.map((ref) => resolveAuthority(ref).publicKey);
}

/** A hub's membership in a federation: what to print, and how to leave (its heartbeats, its NATS connection). */
export interface Federated {
  readonly description: string;
  stop(): Promise<void>;
}

/**
 * Starts the forwarding service of a hub; with authorities, it admits forwarders by credential only; with a
 * `federation` section, it joins that federation as `federation.name` (default `nodeName`), and leaves it
 * when the node stops. `federated` says where, for the node's output.
 */
export async function startHubService(
  ctx: Context,
  hub: NonNullable<NodeConfig['hub']>,
  nodeName: string,
): Promise<{ service: ForwardingService; authorities: string[]; federated?: Federated }> {
  const authorities = hub.authorities.map((ref) => resolveAuthority(ref));
  const admit =
    authorities.length === 0
      ? undefined
      : relayAdmission(
          TrustedAuthorities.of(
            await InMemoryVault.create(),
            authorities.map((a) => a.publicKey),
          ),
        );
  const identifiers = authorities.map((a) => a.identifier);
  if (hub.federation !== undefined) {
    const { service, federated } = await startFederated(ctx, hub, nodeName, admit);
    return { service, authorities: identifiers, federated };
  }
  const service = await ForwardingService.start(ctx, 'forwarding_service', {
    statePath: hub.statePath,
    ...(admit === undefined ? {} : { admit }),
  });
  return { service, authorities: identifiers };
}

/** The federated side of `startHubService`. */
async function startFederated(
  ctx: Context,
  hub: NonNullable<NodeConfig['hub']>,
  nodeName: string,
  admit: RegistrationAdmission | undefined,
): Promise<{ service: ForwardingService; federated: Federated }> {
  const federation = hub.federation!;
  if (hub.statePath !== undefined) {
    throw new CliError(
      'CONFIG',
      'hub.statePath: a federated hub keeps its names in the federation, not a file',
    );
  }
  const name = federation.name ?? nodeName;
  const hubHandle = await startFederatedHub(ctx, {
    nats: {
      servers: federation.nats,
      client: {
        // The reply inbox the NATS permissions of docs/federation.md let only this hub subscribe to.
        inboxPrefix: inboxPrefixOf(name),
        ...(federation.user === undefined ? {} : { user: federation.user }),
        ...(federation.passwordFile === undefined ? {} : { pass: firstLine(federation.passwordFile) }),
      },
    },
    hub: name,
    ...(federation.replicas === undefined ? {} : { federation: { replicas: federation.replicas } }),
    ...(admit === undefined ? {} : { admit }),
  });
  return {
    service: hubHandle.service,
    federated: {
      description: `hub ${name} of a federation on ${federation.nats.join(', ')}`,
      stop: () => hubHandle.federation.stop(),
    },
  };
}

/** The first line of a secret's file (a CONFIG error if it cannot be read or is empty). */
function firstLine(file: string): string {
  let line: string | undefined;
  try {
    line = readFileSync(file, 'utf8').split(/\r?\n/, 1)[0];
  } catch (cause) {
    throw new CliError('CONFIG', `cannot read ${file}`, { cause });
  }
  if (line === undefined || line === '') throw new CliError('CONFIG', `${file} is empty`);
  return line;
}

/** An identifier, or the identifier of an identity of this config directory named so. */
async function enrollerIdentifier(entry: string): Promise<string> {
  if (/^I[0-9a-f]{40}$/.test(entry)) return entry;
  const recorded = await recordedIdentifier(entry);
  if (recorded === undefined) {
    throw new CliError('CONFIG', `enroller "${entry}" is neither an identifier nor an identity here`);
  }
  return recorded;
}

/**
 * Starts an authority as `identity` behind a listener any proven identity may reach (a newcomer must, to
 * present its ticket), and records it in the config directory once `address` is known. Nothing without
 * an `authority` section.
 */
export async function startAuthorityService(
  ctx: Context,
  identity: Identity,
  identityName: string,
  authority: NodeConfig['authority'],
): Promise<
  | { service: AuthorityService; record: (address: string, name: string) => Promise<KnownAuthority> }
  | undefined
> {
  if (authority === undefined) return undefined;
  const enrollers = await Promise.all(authority.enrollers.map(enrollerIdentifier));
  const statePath = authority.statePath ?? join(configDir(), 'authorities', `${identityName}.members.json`);
  await mkdir(dirname(statePath), { recursive: true, mode: 0o700 });
  const service = await AuthorityService.start(ctx, identity, AUTHORITY_SERVICE, {
    statePath,
    enrollers,
    ...(authority.credentialTtlSeconds === undefined
      ? {}
      : { credentialTtlMs: authority.credentialTtlSeconds * 1000 }),
  });
  await createSecureChannelListener(ctx, identity, AUTHORITY_LISTENER, { trustPolicy: TrustAnyIdentity });
  const record = async (address: string, name: string): Promise<KnownAuthority> => {
    const known: KnownAuthority = {
      identifier: identity.identifier,
      publicKey: Buffer.from(identity.publicKey).toString('hex'),
      address,
      name,
    };
    await rememberAuthority(known);
    return known;
  };
  return { service, record };
}
