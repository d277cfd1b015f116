import { Encoder } from 'cbor-x';
import { createSecureChannel } from '../../src/channel/create-secure-channel';
import { createSecureChannelListener } from '../../src/channel/create-secure-channel-listener';
import { remoteAttributesOf, requireAttributes, requirePolicy } from '../../src/channel/attribute-access';
import { SecureChannelError } from '../../src/channel/errors';
import type { SecureChannel } from '../../src/channel/secure-channel';
import { route } from '../../src/core/route';
import {
  CredentialError,
  Identity,
  TrustAnyIdentity,
  TrustCredential,
  TrustIdentifier,
  issueCredential,
  type CredentialProvider,
} from '../../src/identity';
import type { Context } from '../../src/node/context';
import type { NodeRuntime } from '../../src/node/node-runtime';
import type { AccessRule } from '../../src/node/worker';
import { InMemoryVault } from '../../src/vault';
import { CapturingLogger } from '../helpers/capturing-logger';
import { newNode, stopNodes } from '../helpers/nodes';
import { waitFor, within } from '../helpers/async';
import { scaled } from '../helpers/slowdown';
import { renewableCredentials } from '../helpers/renewable-credentials';

let vault: InMemoryVault;
let authority: Identity;
let stranger: Identity;
let alice: Identity;
let bob: Identity;
let node: NodeRuntime;
let ctx: Context;
let logger: CapturingLogger;

beforeAll(async () => {
  vault = await InMemoryVault.create();
  [authority, stranger, alice, bob] = await Promise.all([1, 2, 3, 4].map(() => Identity.create(vault)));
});
beforeEach(() => {
  logger = new CapturingLogger();
  node = newNode({ logger });
  ctx = node.context();
});
afterEach(() => stopNodes());

const credentialOf = (
  subject: Identity,
  attributes: Record<string, string>,
  ttlMs = 60_000,
  issuer = authority,
) => issueCredential(issuer, subject.identifier, attributes, { ttlMs });

/** An echoer at `echoer` behind `rule`, answering with the sender's attributes. */
async function echoer(rule: AccessRule): Promise<void> {
  await ctx.startWorker(
    'echoer',
    {
      handleMessage: (c, m) =>
        c.send(m.returnRoute, { body: m.body, attributes: { ...remoteAttributesOf(m) } }),
    },
    { access: rule },
  );
}

/** Bob's listener presenting `bobCredentials`, trusting holders of role=client; Alice's channel to it. */
async function open(
  aliceCredentials: readonly Uint8Array[] | CredentialProvider,
  bobCredentials: readonly Uint8Array[] = [],
  options: { clockSkewMs?: number; listenerPolicy?: ReturnType<typeof TrustCredential> } = {},
): Promise<SecureChannel> {
  await createSecureChannelListener(ctx, bob, 'listener', {
    trustPolicy: options.listenerPolicy ?? TrustCredential({ authority, attributes: { role: 'client' } }),
    credentials: bobCredentials,
    clockSkewMs: options.clockSkewMs ?? 0,
  });
  return createSecureChannel(ctx, alice, 'listener', {
    trustPolicy: TrustIdentifier(bob.identifier),
    credentials: aliceCredentials,
    authorities: [authority],
    clockSkewMs: options.clockSkewMs ?? 0,
  });
}

async function untrustedCause(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SecureChannelError);
    expect((error as SecureChannelError).code).toBe('UNTRUSTED');
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof CredentialError ? cause.code : undefined;
  }
  throw new Error('expected the channel to be refused');
}

/** Alice's channel to a listener that presents `credentials`, trusting the authority's role=server only. */
async function aliceSees(credentials: readonly Uint8Array[]): Promise<SecureChannel> {
  await createSecureChannelListener(ctx, bob, 'listener', { trustPolicy: TrustAnyIdentity, credentials });
  return createSecureChannel(ctx, alice, 'listener', {
    trustPolicy: TrustCredential({ authority, attributes: { role: 'server' } }),
    clockSkewMs: 0,
  });
}

describe('credentials in the handshake', () => {
  it('verifies both sides before the channel opens and attaches the attributes to every message', async () => {
    await echoer(requireAttributes({ role: 'client' }));
    const channel = await open(
      [await credentialOf(alice, { role: 'client', team: 'ops' })],
      [await credentialOf(bob, { role: 'server' })],
    );
    expect({ ...channel.remoteIdentity?.credentials?.attributes() }).toEqual({ role: 'server' });
    const reply = await ctx.request<{ attributes: Record<string, string> }>(route(channel, 'echoer'), 'hi');
    expect(reply.body.attributes).toEqual({ role: 'client', team: 'ops' });
  });

  it('refuses a forged credential (BAD_SIGNATURE)', async () => {
    const cbor = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false });
    const [v, body, sig] = cbor.decode(await credentialOf(bob, { role: 'guest' })) as [
      number,
      Uint8Array,
      Uint8Array,
    ];
    const fields = cbor.decode(body) as unknown[];
    fields[5] = new Map([['role', 'server']]);
    expect(await untrustedCause(aliceSees([cbor.encode([v, cbor.encode(fields), sig])]))).toBe(
      'BAD_SIGNATURE',
    );
  });

  it("refuses another identity's credential (WRONG_SUBJECT)", async () => {
    expect(await untrustedCause(aliceSees([await credentialOf(stranger, { role: 'server' })]))).toBe(
      'WRONG_SUBJECT',
    );
  });

  it('refuses an expired credential (EXPIRED)', async () => {
    const expired = await credentialOf(bob, { role: 'server' }, 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await untrustedCause(aliceSees([expired]))).toBe('EXPIRED');
  });

  it('ignores a credential from an unknown issuer: a policy that needs the authority refuses the peer', async () => {
    expect(
      await untrustedCause(aliceSees([await credentialOf(bob, { role: 'server' }, 60_000, stranger)])),
    ).toBe(undefined);
  });

  it('refuses an initiator without the attribute the listener trusts (the listener says untrusted)', async () => {
    const refused = open([await credentialOf(alice, { role: 'guest' })]);
    await expect(refused).rejects.toMatchObject({ code: 'REFUSED' });
  });

  it('opens without credentials on either side as before (no credentials extension is sent)', async () => {
    await createSecureChannelListener(ctx, bob, 'listener', { trustPolicy: TrustAnyIdentity });
    const channel = await createSecureChannel(ctx, alice, 'listener', {
      trustPolicy: TrustIdentifier(bob.identifier),
    });
    expect(channel.remoteIdentity?.credentials).toBeUndefined();
    expect(channel.credentials).toBeUndefined();
  });

  it('applies attribute rules and policy expressions: true admits, false refuses with ACCESS_DENIED', async () => {
    await ctx.startWorker(
      'db',
      { handleMessage: (c, m) => c.send(m.returnRoute, 'ok') },
      {
        access: requirePolicy('(and (= subject.role "client") (= resource.env "prod"))', {
          resource: { env: 'prod' },
        }),
      },
    );
    await ctx.startWorker(
      'dev-db',
      { handleMessage: (c, m) => c.send(m.returnRoute, 'ok') },
      {
        access: requirePolicy('(and (= subject.role "client") (= resource.env "prod"))', {
          resource: { env: 'dev' },
        }),
      },
    );
    await ctx.startWorker(
      'admin',
      { handleMessage: (c, m) => c.send(m.returnRoute, 'ok') },
      {
        access: requireAttributes({ role: 'admin' }),
      },
    );
    const channel = await open([await credentialOf(alice, { role: 'client' })]);
    expect((await ctx.request(route(channel, 'db'), 'q')).body).toBe('ok');
    await expect(ctx.request(route(channel, 'dev-db'), 'q')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    await expect(ctx.request(route(channel, 'admin'), 'q')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    // A message that did not come through a channel has no attributes.
    await expect(ctx.request('db', 'q')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
  });
});

describe('credentials that expire while a channel is open', () => {
  // Long enough for a handshake and a round trip on a loaded machine, short enough for a quick test.
  const ttl = scaled(600);
  // The bound of the issue is a second after expiry on an idle machine. The implementation ends access at
  // the expiry itself (rules read the validity at each message; a timer closes the channel), so what a
  // loaded machine adds is only its scheduling delay: the bound is scaled by the measured slowdown, as
  // every other budget of an expected event is, and still fails if access outlives the credential by more.
  const WITHIN_EXPIRY = scaled(1_000);
  const untilTime = (at: number) =>
    new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

  it('ends access at expiry (ACCESS_DENIED within a second, scaled) on a channel whose trust policy did not need it', async () => {
    await echoer(requireAttributes({ role: 'client' }));
    const expiresAt = Date.now() + ttl;
    const credential = await credentialOf(alice, { role: 'client' }, ttl);
    // Bob admits any identity, and accepts the authority's credentials for his echoer's rule.
    await createSecureChannelListener(ctx, bob, 'listener', {
      trustPolicy: TrustAnyIdentity,
      authorities: [authority],
      clockSkewMs: 0,
    });
    const channel = await createSecureChannel(ctx, alice, 'listener', {
      trustPolicy: TrustIdentifier(bob.identifier),
      credentials: [credential],
    });
    expect((await ctx.request(route(channel, 'echoer'), 'before')).body).toMatchObject({ body: 'before' });
    await untilTime(expiresAt);
    await expect(ctx.request(route(channel, 'echoer'), 'after')).rejects.toMatchObject({
      code: 'ACCESS_DENIED',
    });
    expect(Date.now() - expiresAt).toBeLessThan(WITHIN_EXPIRY);
    expect(channel.isClosed).toBe(false); // the channel itself did not depend on the credential
  });

  it('closes a channel whose trust policy needed the credential within a second (scaled) of its expiry', async () => {
    await echoer(requireAttributes({ role: 'client' }));
    const expiresAt = Date.now() + ttl;
    const channel = await open([await credentialOf(alice, { role: 'client' }, ttl)]);
    expect((await ctx.request(route(channel, 'echoer'), 'before')).body).toMatchObject({ body: 'before' });
    expect(await within(channel.closed(), ttl + WITHIN_EXPIRY, 'the close at expiry')).toBe('remote');
    expect(Date.now() - expiresAt).toBeGreaterThanOrEqual(0);
    expect(Date.now() - expiresAt).toBeLessThan(WITHIN_EXPIRY);
    expect(
      logger.at('warn').some((e) => e.msg === 'secure channel closed: its peer is no longer trusted'),
    ).toBe(true);
  });

  it('keeps access and the channel when the credential is renewed over the channel before it expires', async () => {
    await echoer(requireAttributes({ role: 'client' }));
    const provider = renewableCredentials(await credentialOf(alice, { role: 'client' }, ttl));
    const firstExpiry = Date.now() + ttl;
    const channel = await open(provider);
    await untilTime(firstExpiry - ttl / 2);
    provider.renew(await credentialOf(alice, { role: 'client' }, 60_000));
    await untilTime(firstExpiry + scaled(300));
    expect(channel.isClosed).toBe(false);
    const reply = await ctx.request<{ attributes: Record<string, string> }>(
      route(channel, 'echoer'),
      'after',
    );
    expect(reply.body.attributes).toEqual({ role: 'client' });
  });

  it('drops a renewal that does not verify and keeps the old credentials until they lapse', async () => {
    await echoer(requireAttributes({ role: 'client' }));
    const provider = renewableCredentials(await credentialOf(alice, { role: 'client' }, 60_000));
    const channel = await open(provider);
    provider.renew(await credentialOf(stranger, { role: 'client' }, 60_000)); // about another subject
    await waitFor(
      () => logger.at('warn').some((e) => e.msg === 'dropped credentials that do not verify'),
      1_000,
      'the refused renewal',
    );
    expect((await ctx.request(route(channel, 'echoer'), 'still')).body).toMatchObject({ body: 'still' });
  });
});
