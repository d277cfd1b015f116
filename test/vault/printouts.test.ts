import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import sodiumModule from 'libsodium-wrappers-sumo';
import pino from 'pino';
import { createSecureChannel } from '../../src/channel/create-secure-channel';
import { createSecureChannelListener } from '../../src/channel';
import { Identity, TrustIdentifier } from '../../src/identity';
import { CipherState } from '../../src/noise/cipher-state';
import { cipherFunction } from '../../src/noise/cipher-functions';
import { HandshakeState } from '../../src/noise/handshake-state';
import { generateStaticKey } from '../../src/noise/static-key';
import { ARGON2ID_MIN } from '../../src/vault/file-keys';
import { FileVault } from '../../src/vault/file-vault';
import { InMemoryVault } from '../../src/vault/in-memory-vault';
import { KeyStore } from '../../src/vault/key-store';
import { sodiumReady } from '../../src/crypto/sodium';
import { pair } from '../channel/helpers';
import { newNode, stopNodes } from '../helpers/nodes';
import { tempDir } from './helpers';

// Issue 8, item 7: JSON.stringify of an open FileVault printed its file encryption key. Every object that
// holds a secret now prints its public parts only, through JSON.stringify (and so pino), util.inspect (and
// so console.log), and even util.inspect with custom inspection turned off, which #private fields escape.

const sodium = sodiumModule;
const PASSPHRASE = 'printouts must not show this';

let scratch: { dir: string; cleanup: () => void };
beforeAll(() => sodiumReady());
beforeEach(() => (scratch = tempDir()));
afterEach(async () => {
  await stopNodes();
  scratch.cleanup();
});

/** Every way `secret` could appear in a printout: hex, base64, decimal lists, JSON of a typed array. */
function mentions(text: string, secret: Uint8Array): boolean {
  const head = [...secret.subarray(0, 8)];
  return [
    Buffer.from(secret).toString('hex'),
    Buffer.from(secret).toString('base64').slice(0, 16),
    head.join(', '),
    head.join(','),
    head.map((byte, i) => `"${i}":${byte}`).join(','),
    head.map((byte, i) => `'${i}': ${byte}`).join(', '),
  ].some((form) => text.includes(form));
}

/** What a pino logger writes for `{ [field]: value }`, parsed. */
function pinoLine(field: string, value: unknown): Record<string, unknown> {
  let written = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written += chunk.toString();
      done();
    },
  });
  pino({ base: undefined, timestamp: false }, sink).info({ [field]: value }, 'printout');
  // pino.destination is async by default for streams; a Writable with a sync write has it already.
  return JSON.parse(written) as Record<string, unknown>;
}

/** Every printout of `value`, for searching. */
function printouts(value: unknown): string[] {
  return [
    JSON.stringify(value),
    inspect(value),
    inspect(value, { depth: Infinity, showHidden: true }),
    inspect(value, { depth: Infinity, showHidden: true, customInspect: false }),
    JSON.stringify(pinoLine('it', value)),
  ];
}

/** The key that encrypts a passphrase vault file's body, derived independently from the file. */
function fileEncryptionKey(file: Uint8Array): Uint8Array {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const master = sodium.crypto_pwhash(
    32,
    PASSPHRASE,
    file.slice(18, 34),
    view.getUint32(10),
    view.getUint32(14),
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
  return sodium.crypto_kdf_derive_from_key(32, 1, 'SRVAULT1', master);
}

describe('printouts show public parts only', () => {
  it('FileVault: path, key count and state; never the file key (the leak of issue 8)', async () => {
    const path = `${scratch.dir}/vault`;
    const vault = await FileVault.open(path, { passphrase: PASSPHRASE }, { kdf: ARGON2ID_MIN });
    await vault.generateKey('ed25519');
    await vault.generateKey('x25519');
    const { readFileSync } = await import('node:fs');
    const fileKey = fileEncryptionKey(new Uint8Array(readFileSync(path)));

    expect(JSON.parse(JSON.stringify(vault))).toEqual({ type: 'FileVault', path, keys: 2, closed: false });
    expect(inspect(vault)).toBe(`FileVault {"path":${JSON.stringify(path)},"keys":2,"closed":false}`);
    expect(pinoLine('vault', vault).vault).toEqual({ type: 'FileVault', path, keys: 2, closed: false });
    for (const text of printouts(vault)) expect(mentions(text, fileKey)).toBe(false);
    // Nor do a spread or Object.entries reach the #private fields.
    expect(Object.keys({ ...vault }).sort()).toEqual(['closed', 'lock', 'path', 'queue']);
    await vault.close();
    expect(JSON.parse(JSON.stringify(vault))).toEqual({ type: 'FileVault', path, keys: 0, closed: true });
  });

  it('InMemoryVault and KeyStore: counts, ids and types only', async () => {
    const vault = await InMemoryVault.create();
    const id = await vault.generateKey('ed25519');
    expect(JSON.parse(JSON.stringify(vault))).toEqual({ type: 'InMemoryVault', keys: 1 });
    expect(inspect(vault)).toBe('InMemoryVault {"keys":1}');
    expect(pinoLine('vault', vault).vault).toEqual({ type: 'InMemoryVault', keys: 1 });
    expect(Object.keys({ ...vault })).toEqual([]);

    const store = new KeyStore();
    const entry = store.create('x25519', false);
    store.add(entry);
    expect(JSON.parse(JSON.stringify(store))).toEqual({ keys: [{ id: entry.id, type: 'x25519' }] });
    for (const text of printouts(store)) expect(mentions(text, entry.secret)).toBe(false);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('Identity: identifier and public key, never its vault', async () => {
    const vault = await FileVault.open(
      `${scratch.dir}/id`,
      { passphrase: PASSPHRASE },
      { kdf: ARGON2ID_MIN },
    );
    const identity = await Identity.create(vault);
    const publicKey = Buffer.from(identity.publicKey).toString('hex');
    expect(JSON.parse(JSON.stringify(identity))).toEqual({ identifier: identity.identifier, publicKey });
    expect(inspect(identity)).toBe(`Identity(${identity.identifier})`);
    expect(pinoLine('identity', identity).identity).toEqual({ identifier: identity.identifier, publicKey });
    const { readFileSync } = await import('node:fs');
    const fileKey = fileEncryptionKey(new Uint8Array(readFileSync(`${scratch.dir}/id`)));
    for (const text of printouts({ identity })) expect(mentions(text, fileKey)).toBe(false);
    await vault.close();
  });

  it('SecureChannel and SecureChannelListener: addresses, identifiers, protocol, state; no key', async () => {
    const p = await pair(newNode);
    const listener = await createSecureChannelListener(p.bctx, p.bob, 'listener', {
      trustPolicy: TrustIdentifier(p.alice.identifier),
    });
    const channel = await createSecureChannel(p.actx, p.alice, p.toListener, {
      trustPolicy: TrustIdentifier(p.bob.identifier),
    });
    expect(JSON.parse(JSON.stringify(channel))).toEqual({
      address: channel.address.toString(),
      decryptor: channel.decryptorAddress.toString(),
      remoteIdentifier: p.bob.identifier,
      protocolName: 'Noise_XX_25519_ChaChaPoly_SHA256',
      isInitiator: true,
      delivery: 'default',
      closed: false,
    });
    expect(inspect(channel)).toMatch(/^SecureChannel \{"address":/);
    expect(pinoLine('channel', channel).channel).toEqual(JSON.parse(JSON.stringify(channel)));
    expect(JSON.parse(JSON.stringify(listener))).toEqual({
      address: '0#listener',
      identifier: p.bob.identifier,
      trustPolicy: `TrustIdentifier(${p.alice.identifier})`,
      channels: 1,
      pendingHandshakes: 0,
    });
    expect(inspect(listener)).toMatch(/^SecureChannelListener \{"address":"0#listener"/);
  });

  it('Noise states: the cipher and progress, never k, ck, h or the ephemeral key', async () => {
    const k = sodium.randombytes_buf(32);
    const cipher = new CipherState(cipherFunction('ChaChaPoly'), k);
    expect(JSON.parse(JSON.stringify(cipher))).toEqual({ cipher: 'ChaChaPoly', hasKey: true });
    for (const text of printouts(cipher).slice(0, 3)) expect(mentions(text, k)).toBe(false);

    const handshake = await HandshakeState.create({ initiator: true, s: await generateStaticKey() });
    await handshake.writeMessage(new Uint8Array(0));
    expect(JSON.parse(JSON.stringify(handshake))).toEqual({
      protocolName: 'Noise_XX_25519_ChaChaPoly_SHA256',
      initiator: true,
      message: 1,
      finished: false,
    });
    expect(inspect(handshake)).toMatch(/^HandshakeState \{/);
  });
});
