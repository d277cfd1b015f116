import { TrustEveryone, TrustIdentifier, SecureChannelError } from '../../src';
import { ReceiveKeys, SendKeys, MAX_EPOCH_SKIP } from '../../src/channel/epoch-keys';
import {
  CHUNK_PIECE_LENGTH,
  decodeHello,
  decodeRefused,
  encodeHello,
  encodeRefused,
  readU64,
  writeU64,
} from '../../src/channel/frames';
import { Handshake, type HandshakeSettings } from '../../src/channel/handshake';
import { Reassembly } from '../../src/channel/reassembly';
import { ByteBudget } from '../../src/node/byte-budget';
import { ReorderBuffer } from '../../src/channel/reorder-buffer';
import { ReplayWindow } from '../../src/channel/replay-window';
import { localStaticKey, VerifiedBindings, type LocalStatic } from '../../src/channel/static-keys';
import { CipherState, parseProtocolName, TAG_LENGTH } from '../../src/noise';
import { sodiumReady } from '../../src/vault';
import { newIdentity } from './helpers';

describe('ReplayWindow', () => {
  it('accepts fresh nonces in any order inside the window, once each', () => {
    const w = new ReplayWindow(64);
    for (const n of [5, 3, 9, 4, 0]) {
      expect(w.check(n)).toBe('fresh');
      w.mark(n);
      expect(w.check(n)).toBe('replayed');
    }
    expect(w.check(1)).toBe('fresh');
    expect(w.check(73)).toBe('fresh'); // ahead of everything
  });

  it('calls a nonce too old once it falls behind the window', () => {
    const w = new ReplayWindow(32);
    w.mark(0);
    w.mark(40);
    expect(w.check(8)).toBe('too-old');
    expect(w.check(9)).toBe('fresh');
    expect(w.check(40)).toBe('replayed');
    w.mark(1_000_000); // a jump past the whole window forgets it all
    expect(w.check(999_999)).toBe('fresh');
    expect(w.check(1_000_000 - 32)).toBe('too-old');
  });

  it('forgets the slots it slides over (no false replays)', () => {
    const w = new ReplayWindow(8);
    for (let n = 0; n < 100; n += 3) {
      expect(w.check(n)).toBe('fresh');
      w.mark(n);
    }
    expect(w.check(97)).toBe('fresh');
    expect(w.check(98)).toBe('fresh');
  });
});

describe('SendKeys / ReceiveKeys', () => {
  let cipher: ReturnType<typeof parseProtocolName>['cipher'];
  beforeAll(async () => {
    await sodiumReady();
    cipher = parseProtocolName('Noise_XX_25519_ChaChaPoly_SHA256').cipher;
  });
  const key = new Uint8Array(32).fill(7);
  const pair = (interval: number) => ({
    send: new SendKeys(new CipherState(cipher, key), interval),
    receive: new ReceiveKeys(new CipherState(cipher, key), interval),
  });
  const text = (s: string) => new TextEncoder().encode(s);
  /** The next frame of `send`: its nonce and ciphertext (what the encryptor writes after a frame header). */
  const encrypt = (send: SendKeys, plaintext: Uint8Array) => {
    const ciphertext = new Uint8Array(plaintext.length + TAG_LENGTH);
    return { nonce: send.encryptInto(plaintext, ciphertext, 0), ciphertext };
  };

  it('uses a new key every interval frames (epoch keys are REKEY chains)', () => {
    const { send } = pair(2);
    const reference = new CipherState(cipher, key);
    const frames = [0, 1, 2, 3, 4].map((i) => encrypt(send, text(`f${i}`)));
    expect(frames.map((f) => f.nonce)).toEqual([0, 1, 2, 3, 4]);
    // Frame 2 is under REKEY(k), frame 4 under REKEY(REKEY(k)).
    expect(Buffer.from(reference.encryptWithNonce(2, new Uint8Array(0), text('f2')))).not.toEqual(
      Buffer.from(frames[2]!.ciphertext),
    );
    reference.rekey();
    expect(Buffer.from(reference.decryptWithNonce(2, new Uint8Array(0), frames[2]!.ciphertext))).toEqual(
      Buffer.from(text('f2')),
    );
    reference.rekey();
    expect(Buffer.from(reference.decryptWithNonce(4, new Uint8Array(0), frames[4]!.ciphertext))).toEqual(
      Buffer.from(text('f4')),
    );
  });

  it('decrypts across epochs in any order within current and previous epoch', () => {
    const { send, receive } = pair(3);
    const frames = Array.from({ length: 12 }, (_, i) => encrypt(send, text(`f${i}`)));
    const order = [0, 4, 1, 2, 3, 7, 5, 6, 9, 8, 10, 11];
    for (const i of order) {
      const f = frames[i]!;
      expect(new TextDecoder().decode(receive.decrypt(f.nonce, f.ciphertext))).toBe(`f${i}`);
    }
    // Now in epoch 3; epoch 1 (frames 3-5) is gone.
    expect(() => receive.decrypt(frames[4]!.nonce, frames[4]!.ciphertext)).toThrow(
      expect.objectContaining({ code: 'TOO_OLD' }),
    );
  });

  it('commits a later epoch only when the frame authenticates, and bounds the skip', () => {
    const { send, receive } = pair(1);
    const frames = Array.from({ length: MAX_EPOCH_SKIP + 3 }, (_, i) => encrypt(send, text(`f${i}`)));
    const forged = Uint8Array.from(frames[5]!.ciphertext);
    forged[0]! ^= 1;
    expect(() => receive.decrypt(5, forged)).toThrow(expect.objectContaining({ code: 'DECRYPT_FAILED' }));
    // Epoch 0 is still current: frame 0 decrypts.
    expect(new TextDecoder().decode(receive.decrypt(0, frames[0]!.ciphertext))).toBe('f0');
    const far = frames[MAX_EPOCH_SKIP + 1]!;
    expect(() => receive.decrypt(far.nonce, far.ciphertext)).toThrow(
      expect.objectContaining({ code: 'MALFORMED' }),
    );
    const reachable = frames[MAX_EPOCH_SKIP]!;
    expect(new TextDecoder().decode(receive.decrypt(reachable.nonce, reachable.ciphertext))).toBe(
      `f${MAX_EPOCH_SKIP}`,
    );
  });
});

describe('Reassembly', () => {
  const pieces = (total: number): Uint8Array[] => {
    const whole = Uint8Array.from({ length: total }, (_, i) => i % 251);
    const out: Uint8Array[] = [];
    for (let o = 0; o < total; o += CHUNK_PIECE_LENGTH) out.push(whole.subarray(o, o + CHUNK_PIECE_LENGTH));
    return out;
  };

  it('reassembles pieces arriving in any order', () => {
    const total = CHUNK_PIECE_LENGTH * 3 + 10;
    const parts = pieces(total);
    const r = new Reassembly(1 << 20, 4, 1 << 30, new ByteBudget(1 << 30, 'test'));
    expect(r.add(1, total, 2, parts[2]!)).toBeUndefined();
    expect(r.add(1, total, 0, parts[0]!)).toBeUndefined();
    expect(r.add(1, total, 3, parts[3]!)).toBeUndefined();
    const whole = r.add(1, total, 1, parts[1]!)!;
    expect(whole.length).toBe(total);
    expect(whole[total - 1]).toBe((total - 1) % 251);
    expect(r.pending).toBe(0);
  });

  it('refuses messages over the maximum, misplaced or duplicate pieces', () => {
    const total = CHUNK_PIECE_LENGTH * 2;
    const parts = pieces(total);
    const r = new Reassembly(total, 4, 1 << 30, new ByteBudget(1 << 30, 'test'));
    expect(() => r.add(1, total + 1, 0, parts[0]!)).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
    expect(() => r.add(1, total, 2, parts[0]!)).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
    expect(() => r.add(1, total, 1, parts[1]!.subarray(1))).toThrow(
      expect.objectContaining({ code: 'MALFORMED' }),
    );
    r.add(1, total, 0, parts[0]!);
    expect(() => r.add(1, total, 0, parts[0]!)).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
    expect(r.pending).toBe(0);
  });

  it('holds at most maxPartial messages, evicting the oldest', () => {
    const total = CHUNK_PIECE_LENGTH * 2;
    const parts = pieces(total);
    const r = new Reassembly(1 << 20, 2, 1 << 30, new ByteBudget(1 << 30, 'test'));
    r.add(1, total, 0, parts[0]!);
    r.add(2, total, 0, parts[0]!);
    r.add(3, total, 0, parts[0]!);
    expect(r.pending).toBe(2);
    expect(r.evicted).toBe(1);
    expect(r.add(1, total, 1, parts[1]!)).toBeUndefined(); // message 1 was given up: this starts it anew
    expect(r.add(3, total, 1, parts[1]!)?.length).toBe(total);
  });

  it('charges what arrived, not what the sender declared, per channel end and per node', () => {
    const piece = new Uint8Array(CHUNK_PIECE_LENGTH);
    const declared = 16 * 1024 * 1024; // 257 pieces, of which one is sent
    const node = new ByteBudget(8 * CHUNK_PIECE_LENGTH, 'node');
    const a = new Reassembly(declared, 1024, 1 << 30, node);
    for (let id = 0; id < 4; id++) expect(a.add(id, declared, 0, piece)).toBeUndefined();
    expect(a.bytes).toBe(4 * CHUNK_PIECE_LENGTH);
    expect(node.used).toBe(4 * CHUNK_PIECE_LENGTH);
    // A second channel end on the same node: over the node's bytes, it gives up its own oldest, not a's.
    const b = new Reassembly(declared, 1024, 1 << 30, node);
    for (let id = 0; id < 6; id++) b.add(id, declared, 0, piece);
    expect(node.used).toBeLessThanOrEqual(node.limit);
    expect(a.pending).toBe(4);
    expect(b.evicted).toBe(2);
    // Per channel end: two pieces' worth at most.
    const c = new Reassembly(declared, 1024, 2 * CHUNK_PIECE_LENGTH, new ByteBudget(1 << 30, 'node'));
    for (let id = 0; id < 5; id++) c.add(id, declared, 0, piece);
    expect(c.bytes).toBe(2 * CHUNK_PIECE_LENGTH);
    expect(c.evicted).toBe(3);
    // A message that cannot fit even alone is refused, and its bytes given back.
    expect(() => c.add(9, declared, 2, piece)).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
    a.clear();
    b.clear();
    expect(node.used).toBe(0);
  });
});

describe('ReorderBuffer', () => {
  it('hands out held frames in nonce order and reports the gap it skips', () => {
    const order = new ReorderBuffer();
    order.hold(2, Uint8Array.of(2), 10);
    order.hold(1, Uint8Array.of(1), 11);
    order.hold(5, Uint8Array.of(5, 5), 12);
    expect(order.take()).toBeUndefined(); // 0 is missing
    expect(order.earliestArrival).toBe(10);
    expect(order.skipGap()).toEqual({ from: 0, to: 0 });
    expect([order.take(), order.take(), order.take()]).toEqual([
      Uint8Array.of(1),
      Uint8Array.of(2),
      undefined,
    ]);
    expect(order.skipGap()).toEqual({ from: 3, to: 4 });
    expect(order.take()).toEqual(Uint8Array.of(5, 5));
    expect([order.next, order.size, order.bytes, order.skipGap()]).toEqual([6, 0, 0, undefined]);
  });
});

describe('frames', () => {
  it('round-trips hello, refusal and u64 nonces', () => {
    const hello = encodeHello('Noise_XX_25519_ChaChaPoly_SHA256', new Uint8Array([1, 2, 3]));
    expect(decodeHello(hello).protocolName).toBe('Noise_XX_25519_ChaChaPoly_SHA256');
    expect([...decodeHello(hello).message]).toEqual([1, 2, 3]);
    expect(() => decodeHello(hello.subarray(0, 10))).toThrow(SecureChannelError);
    expect(decodeRefused(encodeRefused('busy'))).toBe('busy');
    expect(decodeRefused(Uint8Array.of(3, 99))).toBe('handshake-failed');
    const out = new Uint8Array(8);
    for (const n of [0, 1, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      writeU64(out, 0, n);
      expect(readU64(out, 0)).toBe(n);
    }
    expect(readU64(new Uint8Array(8).fill(0xff), 0)).toBe(-1);
  });
});

describe('identity proofs in the handshake', () => {
  const settings = (local: LocalStatic, trust = TrustEveryone): HandshakeSettings => ({
    local,
    trustPolicy: trust,
    parameters: { maxMessageSize: 1 << 20, rekeyInterval: 100 },
  });

  /** Runs two handshakes against each other until one throws or both complete. */
  async function run(initiator: Handshake, responder: Handshake): Promise<void> {
    let frame = await initiator.start();
    let message = frame.subarray(2 + frame[1]!);
    let reader = responder;
    let writer = initiator;
    for (;;) {
      const step = await reader.read(message);
      if (step.reply === undefined) return;
      frame = step.reply;
      message = frame.subarray(1);
      [reader, writer] = [writer, reader];
    }
  }

  it('refuses a responder that replays another identity`s binding with its own static key', async () => {
    const alice = await newIdentity();
    const bob = await newIdentity();
    const mallory = await newIdentity();
    const bobStatic = await localStaticKey(bob);
    const malloryStatic = await localStaticKey(mallory);
    // Mallory presents Bob's identity key and Bob's (public, replayable) binding, but her own static key.
    const forged: LocalStatic = { identity: bob, key: malloryStatic.key, binding: bobStatic.binding };
    const protocol = 'Noise_XX_25519_ChaChaPoly_SHA256';
    const initiator = await Handshake.create(
      true,
      protocol,
      settings(await localStaticKey(alice), TrustIdentifier(bob.identifier)),
    );
    const responder = await Handshake.create(false, protocol, settings(forged));
    await expect(run(initiator, responder)).rejects.toMatchObject({
      code: 'UNTRUSTED',
      cause: expect.objectContaining({ code: 'BAD_PROOF' }),
    });
  });

  it('reuses the static key and binding of an identity, and caches verified bindings', async () => {
    const alice = await newIdentity();
    const first = await localStaticKey(alice);
    expect(await localStaticKey(alice)).toBe(first);
    const cache = new VerifiedBindings(2);
    const verify = jest.spyOn(alice.vault, 'verify');
    const args = [alice.vault, alice.publicKey, first.key.publicKey, first.binding] as const;
    expect(cache.verify(...args)).toBe(alice.identifier);
    expect(cache.verify(...args)).toBe(alice.identifier);
    expect(verify).toHaveBeenCalledTimes(1);
    const bad = Uint8Array.from(first.binding);
    bad[0]! ^= 1;
    expect(() => cache.verify(alice.vault, alice.publicKey, first.key.publicKey, bad)).toThrow();
    expect(() => cache.verify(alice.vault, alice.publicKey, first.key.publicKey, bad)).toThrow();
    expect(cache.size).toBe(1);
  });
});
