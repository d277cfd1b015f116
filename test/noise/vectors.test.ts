import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CipherState, HandshakeState, staticKeyFromPrivateKey } from '../../src/noise';

/** One vector of the cacophony set, as stored in test/noise/vectors/ (lowercase hex fields). */
interface Vector {
  protocol_name: string;
  init_prologue: string;
  init_static?: string;
  init_ephemeral: string;
  init_remote_static?: string;
  resp_prologue: string;
  resp_static?: string;
  resp_ephemeral: string;
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

// A copy of the public-domain cacophony set lives in the repository, so a fresh clone tests itself.
const vectorsPath = path.resolve(__dirname, 'vectors/cacophony.json');
const vectors = JSON.parse(readFileSync(vectorsPath, 'utf8')) as Vector[];

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));

describe('Noise test vectors (cacophony)', () => {
  it('loads all 24 vectors', () => {
    expect(vectors).toHaveLength(24);
  });

  test.each(vectors.map((v) => [v.protocol_name, v] as const))('%s', async (_name, v) => {
    const initiator = await HandshakeState.create({
      protocolName: v.protocol_name,
      initiator: true,
      prologue: bytes(v.init_prologue),
      s: v.init_static === undefined ? undefined : await staticKeyFromPrivateKey(bytes(v.init_static)),
      rs: v.init_remote_static === undefined ? undefined : bytes(v.init_remote_static),
      e: bytes(v.init_ephemeral),
    });
    const responder = await HandshakeState.create({
      protocolName: v.protocol_name,
      initiator: false,
      prologue: bytes(v.resp_prologue),
      s: v.resp_static === undefined ? undefined : await staticKeyFromPrivateKey(bytes(v.resp_static)),
      e: bytes(v.resp_ephemeral),
    });

    // Handshake phase: even index = initiator writes, odd = responder writes (README step 4).
    let i = 0;
    for (; !initiator.isComplete; i++) {
      const [writer, reader] = i % 2 === 0 ? [initiator, responder] : [responder, initiator];
      const { payload, ciphertext } = v.messages[i]!;
      expect(hex(await writer.writeMessage(bytes(payload)))).toBe(ciphertext);
      expect(hex(await reader.readMessage(bytes(ciphertext)))).toBe(payload);
    }
    expect(responder.isComplete).toBe(true);
    expect(i).toBe(v.protocol_name.startsWith('Noise_XX') ? 3 : 2);
    expect(hex(initiator.handshakeHash)).toBe(v.handshake_hash);
    expect(hex(responder.handshakeHash)).toBe(v.handshake_hash);
    // Every pattern here authenticates the responder; XX and IK also the initiator, NK leaves it anonymous.
    const respStatic = await staticKeyFromPrivateKey(bytes(v.resp_static!));
    expect(hex(initiator.remoteStaticPublicKey!)).toBe(hex(respStatic.publicKey));
    if (v.init_static === undefined) {
      expect(responder.remoteStaticPublicKey).toBeUndefined();
    } else {
      const initStatic = await staticKeyFromPrivateKey(bytes(v.init_static));
      expect(hex(responder.remoteStaticPublicKey!)).toBe(hex(initStatic.publicKey));
    }

    // Transport phase: the initiator sends with c1, the responder with c2; the alternation continues.
    const sides = { initiator: initiator.split(), responder: responder.split() };
    for (; i < v.messages.length; i++) {
      const [send, receive]: [CipherState, CipherState] =
        i % 2 === 0
          ? [sides.initiator.send, sides.responder.receive]
          : [sides.responder.send, sides.initiator.receive];
      const { payload, ciphertext } = v.messages[i]!;
      const empty = new Uint8Array(0);
      expect(hex(send.encryptWithAd(empty, bytes(payload)))).toBe(ciphertext);
      expect(hex(receive.decryptWithAd(empty, bytes(ciphertext)))).toBe(payload);
    }
    expect(i).toBe(6);
  });
});
