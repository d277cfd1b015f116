import { inspect } from 'node:util';
import { SealrouteError } from '../../src/core/errors';
import {
  CipherState,
  DEFAULT_PROTOCOL_NAME,
  generateStaticKey,
  HandshakeOptions,
  HandshakeState,
  NoiseError,
  NoiseErrorCode,
  NoiseStaticKey,
  staticKeyFromVault,
  TransportCiphers,
} from '../../src/noise';
import { nodeCrypto, type CryptoBackend } from '../../src/crypto';
import { InMemoryVault } from '../../src/vault/in-memory-vault';
import type { Vault } from '../../src/vault/vault';
import { scaled } from '../helpers/slowdown';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const empty = new Uint8Array(0);

/** Expects `action` to reject with a NoiseError of `code` (and nothing else). */
async function expectNoiseError(action: () => Promise<unknown>, code: NoiseErrorCode): Promise<NoiseError> {
  let caught: unknown;
  try {
    await action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(NoiseError);
  expect(caught).toBeInstanceOf(SealrouteError);
  const error = caught as NoiseError;
  expect(error.name).toBe('NoiseError');
  expect(error.origin).toBe('noise');
  expect(error.code).toBe(code);
  return error;
}

interface Peers {
  initiator: HandshakeState;
  responder: HandshakeState;
  initiatorStatic: NoiseStaticKey;
  responderStatic: NoiseStaticKey;
}

/** Two handshake states with fresh static keys, configured as the pattern in `protocolName` needs. */
async function peers(protocolName: string, extra: Partial<HandshakeOptions> = {}): Promise<Peers> {
  const initiatorStatic = await generateStaticKey();
  const responderStatic = await generateStaticKey();
  const pattern = protocolName.split('_')[1];
  const prologue = text('sealroute test v1');
  const initiator = await HandshakeState.create({
    protocolName,
    initiator: true,
    prologue,
    s: pattern === 'NK' ? undefined : initiatorStatic,
    rs: pattern === 'XX' ? undefined : responderStatic.publicKey,
    ...extra,
  });
  const responder = await HandshakeState.create({
    protocolName,
    initiator: false,
    prologue,
    s: responderStatic,
  });
  return { initiator, responder, initiatorStatic, responderStatic };
}

/** Runs every handshake message, checking each payload arrives; returns the messages written. */
async function runHandshake({ initiator, responder }: Peers): Promise<Uint8Array[]> {
  const messages: Uint8Array[] = [];
  for (let i = 0; !initiator.isComplete; i++) {
    const [writer, reader] = i % 2 === 0 ? [initiator, responder] : [responder, initiator];
    expect(writer.turn).toBe('write');
    expect(reader.turn).toBe('read');
    const payload = text(`handshake payload ${i}`);
    const message = await writer.writeMessage(payload);
    expect(hex(await reader.readMessage(message))).toBe(hex(payload));
    messages.push(message);
  }
  expect(responder.isComplete).toBe(true);
  expect(initiator.turn).toBe('complete');
  expect(responder.turn).toBe('complete');
  return messages;
}

/** Sends messages of several sizes (both sides of the ChaChaPoly backend threshold) each way. */
function exchange(a: TransportCiphers, b: TransportCiphers): void {
  for (const size of [0, 1, 100, 2047, 2048, 5000, 65535 - 16]) {
    const plaintext = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff);
    const ad = text(`ad ${size}`);
    const there = a.send.encryptWithAd(ad, plaintext);
    expect(there).toHaveLength(size + 16);
    expect(hex(b.receive.decryptWithAd(ad, there))).toBe(hex(plaintext));
    const back = b.send.encryptWithAd(ad, plaintext);
    expect(hex(a.receive.decryptWithAd(ad, back))).toBe(hex(plaintext));
    // The two directions use different keys: the same plaintext at the same nonce encrypts differently.
    expect(hex(back)).not.toBe(hex(there));
  }
}

const suites = ['ChaChaPoly_SHA256', 'AESGCM_BLAKE2b', 'ChaChaPoly_BLAKE2s', 'AESGCM_SHA512'];
const cases = ['XX', 'IK', 'NK'].flatMap((pattern) =>
  suites.map((suite) => `Noise_${pattern}_25519_${suite}`),
);

describe('HandshakeState', () => {
  test.each(cases)('%s completes with fresh keys and carries transport both ways', async (protocolName) => {
    const p = await peers(protocolName);
    expect(p.initiator.protocolName).toBe(protocolName);
    const messages = await runHandshake(p);
    expect(messages).toHaveLength(protocolName.startsWith('Noise_XX') ? 3 : 2);

    expect(hex(p.initiator.handshakeHash)).toBe(hex(p.responder.handshakeHash));
    expect(p.initiator.handshakeHash).toHaveLength(/SHA512|BLAKE2b/.test(protocolName) ? 64 : 32);
    expect(hex(p.initiator.remoteStaticPublicKey!)).toBe(hex(p.responderStatic.publicKey));
    if (protocolName.startsWith('Noise_NK')) {
      expect(p.responder.remoteStaticPublicKey).toBeUndefined();
    } else {
      expect(hex(p.responder.remoteStaticPublicKey!)).toBe(hex(p.initiatorStatic.publicKey));
    }

    exchange(p.initiator.split(), p.responder.split());
  });

  it('defaults to Noise_XX_25519_ChaChaPoly_SHA256', async () => {
    const s = await generateStaticKey();
    const hs = await HandshakeState.create({ initiator: true, s });
    expect(hs.protocolName).toBe(DEFAULT_PROTOCOL_NAME);
    expect(DEFAULT_PROTOCOL_NAME).toBe('Noise_XX_25519_ChaChaPoly_SHA256');
  });

  it('runs with a vault-held static key whose DH is asynchronous', async () => {
    const held = await generateStaticKey();
    const vault = {
      publicKey: async (id: string) => (id === 'k1' ? held.publicKey : Promise.reject(new Error('no key'))),
      dh: async (id: string, peer: Uint8Array) => {
        expect(id).toBe('k1');
        await new Promise((resolve) => setTimeout(resolve, 1));
        return held.dh(peer);
      },
    } as unknown as Vault;
    const responderStatic = await staticKeyFromVault(vault, 'k1');
    const initiator = await HandshakeState.create({
      protocolName: 'Noise_IK_25519_ChaChaPoly_SHA256',
      initiator: true,
      s: await generateStaticKey(),
      rs: held.publicKey,
    });
    const responder = await HandshakeState.create({
      protocolName: 'Noise_IK_25519_ChaChaPoly_SHA256',
      initiator: false,
      s: responderStatic,
    });
    await runHandshake({ initiator, responder, initiatorStatic: held, responderStatic });
    exchange(initiator.split(), responder.split());
  });

  it('runs XX with both static keys held in InMemoryVaults', async () => {
    const vaults = [await InMemoryVault.create(), await InMemoryVault.create()];
    const [initiatorStatic, responderStatic] = await Promise.all(
      vaults.map(async (vault) => staticKeyFromVault(vault, await vault.generateKey('x25519'))),
    );
    const initiator = await HandshakeState.create({ initiator: true, s: initiatorStatic });
    const responder = await HandshakeState.create({ initiator: false, s: responderStatic });
    await runHandshake({
      initiator,
      responder,
      initiatorStatic: initiatorStatic!,
      responderStatic: responderStatic!,
    });
    expect(hex(responder.remoteStaticPublicKey!)).toBe(hex(initiatorStatic!.publicKey));
    exchange(initiator.split(), responder.split());
  });

  it('prints an in-memory static key as its public key only', async () => {
    const s = await generateStaticKey();
    expect(JSON.parse(JSON.stringify(s))).toEqual({ publicKey: hex(s.publicKey) });
    expect(inspect(s)).toBe(`InMemoryStaticKey {"publicKey":"${hex(s.publicKey)}"}`);
  });

  it('runs on the crypto backend it is given, importing each received key once', async () => {
    const calls = { keyPairs: 0, imports: 0, dh: 0, hashes: 0, seals: 0 };
    const x = nodeCrypto.x25519;
    const counting: CryptoBackend = {
      name: 'counting',
      x25519: {
        generateKeyPair: () => (calls.keyPairs++, x.generateKeyPair()),
        keyPairFromPrivateKey: (key) => x.keyPairFromPrivateKey(key),
        importPublicKey: (key) => (calls.imports++, x.importPublicKey(key)),
        dh: (priv, pub) => (calls.dh++, x.dh(priv, pub)),
      },
      hasher: (algorithm) => {
        const hasher = nodeCrypto.hasher(algorithm);
        return { ...hasher, hash: (...parts) => (calls.hashes++, hasher.hash(...parts)) };
      },
      aead: (algorithm) => {
        const aead = nodeCrypto.aead(algorithm);
        return { ...aead, seal: (...args) => (calls.seals++, aead.seal(...args)) };
      },
    };
    // The static keys belong to Node's backend: with another backend they answer through their own dh.
    const [si, sr] = [await generateStaticKey(), await generateStaticKey()];
    const initiator = await HandshakeState.create({ initiator: true, s: si, crypto: counting });
    const responder = await HandshakeState.create({ initiator: false, s: sr, crypto: counting });
    await runHandshake({ initiator, responder, initiatorStatic: si, responderStatic: sr });
    exchange(initiator.split(), responder.split());
    // Two ephemerals; re and rs imported once per side; the four ephemeral DHs (ee twice, es, se).
    expect(calls).toMatchObject({ keyPairs: 2, imports: 4, dh: 4 });
    expect(calls.hashes).toBeGreaterThan(0);
    expect(calls.seals).toBeGreaterThan(0);
  });

  describe('turns', () => {
    it('rejects a step out of turn, after completion, and split before completion or twice', async () => {
      const p = await peers('Noise_XX_25519_ChaChaPoly_SHA256');
      expect(p.initiator.turn).toBe('write');
      expect(p.responder.turn).toBe('read');
      await expectNoiseError(() => p.responder.writeMessage(empty), 'OUT_OF_TURN');
      await expectNoiseError(() => p.initiator.readMessage(new Uint8Array(48)), 'OUT_OF_TURN');
      expect(() => p.initiator.split()).toThrow(expect.objectContaining({ code: 'OUT_OF_TURN' }));

      await runHandshake(p);
      await expectNoiseError(() => p.initiator.writeMessage(empty), 'HANDSHAKE_COMPLETE');
      await expectNoiseError(() => p.responder.readMessage(new Uint8Array(64)), 'HANDSHAKE_COMPLETE');
      p.initiator.split();
      expect(() => p.initiator.split()).toThrow(expect.objectContaining({ code: 'OUT_OF_TURN' }));
      await expectNoiseError(() => p.initiator.writeMessage(empty), 'HANDSHAKE_COMPLETE');
      // The handshake hash survives split: the channel layer binds to it afterwards.
      expect(hex(p.initiator.handshakeHash)).toBe(hex(p.responder.handshakeHash));
    });

    it('rejects a second step while one is still waiting for an asynchronous DH', async () => {
      const held = await generateStaticKey();
      const slow: NoiseStaticKey = {
        publicKey: held.publicKey,
        dh: async (peer) => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          return held.dh(peer);
        },
      };
      const responder = await generateStaticKey();
      const hs = await HandshakeState.create({
        protocolName: 'Noise_IK_25519_ChaChaPoly_SHA256',
        initiator: true,
        s: slow,
        rs: responder.publicKey,
      });
      const first = hs.writeMessage(text('first'));
      await expectNoiseError(() => hs.writeMessage(text('second')), 'OUT_OF_TURN');
      await expect(first).resolves.toHaveLength(32 + 48 + 5 + 16);
      expect(hs.turn).toBe('read');
    });

    it('wipes everything on destroy and accepts no further steps', async () => {
      const p = await peers('Noise_XX_25519_ChaChaPoly_SHA256');
      await p.initiator.writeMessage(empty);
      p.initiator.destroy();
      expect(p.initiator.turn).toBe('complete');
      await expectNoiseError(() => p.initiator.readMessage(new Uint8Array(96)), 'HANDSHAKE_COMPLETE');
      expect(() => p.initiator.split()).toThrow(expect.objectContaining({ code: 'OUT_OF_TURN' }));
    });
  });

  describe('tampering', () => {
    it.each(['Noise_XX_25519_ChaChaPoly_SHA256', 'Noise_XX_25519_AESGCM_SHA256'])(
      '%s: any flipped byte of message 2 is rejected, and the genuine message still reads afterwards',
      async (protocolName) => {
        const p = await peers(protocolName);
        await p.responder.readMessage(await p.initiator.writeMessage(empty));
        const message = await p.responder.writeMessage(text('responder payload'));
        const hashBefore = hex(p.initiator.handshakeHash);

        for (let i = 0; i < message.length; i++) {
          const tampered = Uint8Array.from(message);
          tampered[i]! ^= 0x01 << (i % 8);
          // Any change, to the ephemeral key, the encrypted static key or the payload, breaks a tag; and
          // the error is opaque: the same text whatever the cause, nothing about where or why.
          const error = await expectNoiseError(() => p.initiator.readMessage(tampered), 'DECRYPT_FAILED');
          expect(error.message).toBe('decryption failed');
          expect(error.cause).toBeUndefined();
          expect(p.initiator.turn).toBe('read');
          expect(hex(p.initiator.handshakeHash)).toBe(hashBefore);
        }

        // State was never committed: the untouched message is read and the handshake completes.
        expect(hex(await p.initiator.readMessage(message))).toBe(hex(text('responder payload')));
        await p.responder.readMessage(await p.initiator.writeMessage(empty));
        exchange(p.initiator.split(), p.responder.split());
      },
      scaled(30_000),
    );

    it('rejects truncated, empty and oversized messages with BAD_MESSAGE, leaving the state usable', async () => {
      const p = await peers('Noise_XX_25519_ChaChaPoly_SHA256');
      await expectNoiseError(() => p.responder.readMessage(new Uint8Array(31)), 'BAD_MESSAGE');
      await expectNoiseError(() => p.responder.readMessage(new Uint8Array(65536)), 'BAD_MESSAGE');
      await p.responder.readMessage(await p.initiator.writeMessage(empty));

      const message = await p.responder.writeMessage(empty); // e, ee, s, es + empty payload: 32 + 48 + 16
      expect(message).toHaveLength(96);
      await expectNoiseError(() => p.initiator.readMessage(message.subarray(0, 0)), 'BAD_MESSAGE');
      await expectNoiseError(() => p.initiator.readMessage(message.subarray(0, 79)), 'BAD_MESSAGE');
      await expectNoiseError(() => p.initiator.readMessage(message.subarray(0, 95)), 'BAD_MESSAGE');
      await p.initiator.readMessage(message);
      expect(p.initiator.turn).toBe('write');
    });

    it('fails on a prologue mismatch at the first authenticated message', async () => {
      const s = await generateStaticKey();
      const protocolName = 'Noise_NK_25519_ChaChaPoly_SHA256';
      const initiator = await HandshakeState.create({
        protocolName,
        initiator: true,
        prologue: text('v1'),
        rs: s.publicKey,
      });
      const responder = await HandshakeState.create({
        protocolName,
        initiator: false,
        prologue: text('v2'),
        s,
      });
      await expectNoiseError(
        async () => responder.readMessage(await initiator.writeMessage(empty)),
        'DECRYPT_FAILED',
      );
    });

    it('fails when an IK initiator pins the wrong responder key', async () => {
      const s = await generateStaticKey();
      const impostor = await generateStaticKey();
      const protocolName = 'Noise_IK_25519_AESGCM_SHA256';
      const initiator = await HandshakeState.create({
        protocolName,
        initiator: true,
        s: await generateStaticKey(),
        rs: impostor.publicKey,
      });
      const responder = await HandshakeState.create({ protocolName, initiator: false, s });
      await expectNoiseError(
        async () => responder.readMessage(await initiator.writeMessage(empty)),
        'DECRYPT_FAILED',
      );
    });
  });

  describe('limits and configuration', () => {
    it('bounds a written message to 65535 bytes without committing anything', async () => {
      const p = await peers('Noise_XX_25519_ChaChaPoly_SHA256');
      // Message 1 of XX is e (32 bytes) and an unencrypted payload: room for 65503 payload bytes.
      await expectNoiseError(() => p.initiator.writeMessage(new Uint8Array(65504)), 'MESSAGE_TOO_LARGE');
      await expectNoiseError(() => p.initiator.writeMessage(new Uint8Array(70000)), 'MESSAGE_TOO_LARGE');
      expect(p.initiator.turn).toBe('write');
      const first = await p.initiator.writeMessage(new Uint8Array(65503));
      expect(first).toHaveLength(65535);
      await p.responder.readMessage(first);
      // Message 2 carries e, encrypted s and an encrypted payload: 32 + 48 + 16 bytes of overhead.
      await expectNoiseError(
        () => p.responder.writeMessage(new Uint8Array(65535 - 96 + 1)),
        'MESSAGE_TOO_LARGE',
      );
      const second = await p.responder.writeMessage(new Uint8Array(65535 - 96));
      expect(second).toHaveLength(65535);
      await p.initiator.readMessage(second);
    });

    it.each([
      ['Noise_XX_25519_ChaChaPoly_SHA256', true, 'no s'],
      ['Noise_XX_25519_ChaChaPoly_SHA256', false, 'no s'],
      ['Noise_IK_25519_ChaChaPoly_SHA256', true, 'no s'],
      ['Noise_IK_25519_ChaChaPoly_SHA256', true, 'no rs'],
      ['Noise_IK_25519_ChaChaPoly_SHA256', false, 'no s'],
      ['Noise_NK_25519_ChaChaPoly_SHA256', true, 'no rs'],
      ['Noise_NK_25519_ChaChaPoly_SHA256', false, 'no s'],
    ] as const)('%s (initiator: %s) with %s throws MISSING_KEY', async (protocolName, initiator, missing) => {
      const key = await generateStaticKey();
      const remote = await generateStaticKey();
      const options: HandshakeOptions = {
        protocolName,
        initiator,
        s: missing === 'no s' ? undefined : key,
        rs: missing === 'no rs' || !initiator || protocolName.includes('_XX_') ? undefined : remote.publicKey,
      };
      await expectNoiseError(() => HandshakeState.create(options), 'MISSING_KEY');
    });

    it('needs no static key for an NK initiator', async () => {
      const remote = await generateStaticKey();
      const hs = await HandshakeState.create({
        protocolName: 'Noise_NK_25519_ChaChaPoly_SHA256',
        initiator: true,
        rs: remote.publicKey,
      });
      expect(hs.turn).toBe('write');
    });

    it('rejects keys of the wrong length and a pinned key for a pattern that learns it', async () => {
      const s = await generateStaticKey();
      const protocolName = 'Noise_IK_25519_ChaChaPoly_SHA256';
      await expectNoiseError(
        () => HandshakeState.create({ protocolName, initiator: true, s, rs: new Uint8Array(31) }),
        'INVALID_KEY',
      );
      await expectNoiseError(
        () =>
          HandshakeState.create({ protocolName, initiator: true, s, rs: s.publicKey, e: new Uint8Array(33) }),
        'INVALID_KEY',
      );
      await expectNoiseError(
        () =>
          HandshakeState.create({ protocolName: DEFAULT_PROTOCOL_NAME, initiator: true, s, rs: s.publicKey }),
        'INVALID_KEY',
      );
    });

    it('rejects a low-order remote ephemeral key with INVALID_KEY', async () => {
      const p = await peers('Noise_XX_25519_ChaChaPoly_SHA256');
      await p.responder.readMessage(await p.initiator.writeMessage(empty));
      const message = await p.responder.writeMessage(empty);
      const lowOrder = Uint8Array.from(message);
      lowOrder.fill(0, 0, 32); // the point 0 has order 4: DH with it is all zeros
      await expectNoiseError(() => p.initiator.readMessage(lowOrder), 'INVALID_KEY');
      await p.initiator.readMessage(message);
    });

    it.each([
      'Noise_XX_448_ChaChaPoly_SHA256',
      'Noise_KK_25519_ChaChaPoly_SHA256',
      'Noise_XXpsk3_25519_ChaChaPoly_SHA256',
      'Noise_XX_25519_ChaChaPoly_SHA3',
      'Noise_XX_25519_AESGCM128_SHA256',
      'Noise_XX_25519_ChaChaPoly',
      'NoiseXX_25519_ChaChaPoly_SHA256',
      'Noise_toString_25519_ChaChaPoly_SHA256',
    ])('rejects %s with UNSUPPORTED_PROTOCOL', async (protocolName) => {
      const s = await generateStaticKey();
      await expectNoiseError(
        () => HandshakeState.create({ protocolName, initiator: true, s }),
        'UNSUPPORTED_PROTOCOL',
      );
    });
  });

  it('gives every session fresh ephemeral keys and so fresh transport keys', async () => {
    const outputs = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const p = await peers('Noise_XX_25519_ChaChaPoly_SHA256');
      await runHandshake(p);
      const send: CipherState = p.initiator.split().send;
      outputs.add(hex(send.encryptWithAd(empty, text('same plaintext'))));
      outputs.add(hex(p.initiator.handshakeHash));
    }
    expect(outputs.size).toBe(6);
  });
});
