import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureChannel } from '../../src/channel/create-secure-channel';
import { createSecureChannelListener } from '../../src/channel';
import {
  IdentityError,
  TrustAnyIdentity,
  TrustEveryone,
  TrustIdentifier,
  allowListFrom,
  parseIdentifier,
  parseIdentifierList,
} from '../../src/identity';
import { pair } from '../channel/helpers';
import { CapturingLogger } from '../helpers/capturing-logger';
import { newNode, stopNodes } from '../helpers/nodes';

const A = `I${'a'.repeat(40)}`;
const B = `I${'b'.repeat(40)}`;
const peer = (identifier: string) => ({ identifier, publicKey: new Uint8Array(32) });

function identityError(fn: () => unknown): IdentityError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(IdentityError);
  expect(error).toMatchObject({ code: 'INVALID_IDENTIFIER' });
  return error as IdentityError;
}

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'sealroute-trust-'))));
afterEach(async () => {
  await stopNodes();
  rmSync(dir, { recursive: true, force: true });
});

describe('allow-lists', () => {
  it('parse identifiers separated by commas, spaces and lines, with # comments', () => {
    expect(parseIdentifierList(`${A},${B}`)).toEqual([A, B]);
    expect(parseIdentifierList(`# who may talk\n${A}   # Alice\n\n  ${B} ,\n`)).toEqual([A, B]);
    expect(parseIdentifier(A)).toBe(A);
  });

  it.each([
    ['an empty list', ' , # nothing\n'],
    ['a name instead of an identifier', `${A},Ialice`],
    ['an uppercase identifier', A.toUpperCase()],
    ['a truncated identifier', A.slice(0, 40)],
  ])('refuse %s with INVALID_IDENTIFIER', (_what, text) => {
    identityError(() => parseIdentifierList(text));
  });

  it('allowListFrom: undefined for no setting, TrustIdentifier for a list or an @file', async () => {
    expect(allowListFrom(undefined)).toBeUndefined();
    expect(allowListFrom('  ')).toBeUndefined();
    const inline = allowListFrom(`${A},${B}`)!;
    expect(inline.name).toBe(`TrustIdentifier(${A}, ${B})`);
    expect(await inline.check(peer(A))).toBe(true);
    expect(await inline.check(peer(`I${'c'.repeat(40)}`))).toBe(false);
    const file = join(dir, 'allowed.txt');
    writeFileSync(file, `${B}  # Bob\n`);
    const fromFile = allowListFrom(`@${file}`)!;
    expect(await fromFile.check(peer(B))).toBe(true);
    expect(await fromFile.check(peer(A))).toBe(false);
  });

  it('allowListFrom: a missing or malformed file is an error, never an open door', () => {
    expect(identityError(() => allowListFrom(`@${join(dir, 'missing.txt')}`)).message).toContain(
      'cannot read',
    );
    const file = join(dir, 'bad.txt');
    writeFileSync(file, 'alice\n');
    identityError(() => allowListFrom(`@${file}`));
  });
});

describe('TrustEveryone and TrustAnyIdentity', () => {
  it('TrustEveryone logs one warning per node, whatever uses it; TrustAnyIdentity and TrustIdentifier none', async () => {
    const logger = new CapturingLogger();
    const quiet = new CapturingLogger();
    const p = await pair(newNode);
    const a = newNode({ logger });
    const b = newNode({ logger: quiet });
    await createSecureChannelListener(a.context(), p.alice, 'one', { trustPolicy: TrustEveryone });
    await createSecureChannelListener(a.context(), p.alice, 'two', { trustPolicy: TrustEveryone });
    await createSecureChannelListener(b.context(), p.bob, 'public', { trustPolicy: TrustAnyIdentity });
    await createSecureChannelListener(b.context(), p.bob, 'private', { trustPolicy: TrustIdentifier(A) });
    const warnings = logger.at('warn').filter((entry) => (entry.msg ?? '').includes('TrustEveryone'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.obj).toMatchObject({ trustPolicy: 'TrustEveryone', by: 'listener' });
    expect(quiet.at('warn')).toEqual([]);

    // A channel of another node warns on that node, once.
    const channelLogger = new CapturingLogger();
    const c = newNode({ logger: channelLogger });
    const opening = createSecureChannel(c.context(), p.alice, 'nowhere', {
      trustPolicy: TrustEveryone,
      timeout: 50,
    });
    await expect(opening).rejects.toMatchObject({ name: 'SecureChannelError' });
    expect(
      channelLogger.at('warn').filter((entry) => (entry.msg ?? '').includes('TrustEveryone')),
    ).toHaveLength(1);
  });

  it('TrustAnyIdentity admits any proven identity but, unlike TrustEveryone, no anonymous NK initiator', async () => {
    const p = await pair(newNode);
    const nk = 'Noise_NK_25519_ChaChaPoly_SHA256';
    await expect(
      createSecureChannelListener(p.bctx, p.bob, 'nk', { trustPolicy: TrustAnyIdentity, protocol: nk }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
      trustPolicy: TrustAnyIdentity,
    });
    const channel = await createSecureChannel(p.actx, p.alice, p.toListener, {
      trustPolicy: TrustIdentifier(p.bob.identifier),
    });
    expect(channel.remoteIdentifier).toBe(p.bob.identifier);
    expect([...listener.channels].map((c) => c.remoteIdentifier)).toEqual([p.alice.identifier]);
  });
});
