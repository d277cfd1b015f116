import { Address, LocalMessage, Route, silentLogger } from '../../src';
import { ByteParts } from '../../src/core/byte-parts';
import { codecFor, codecs, encodeBody, encodedBodySize } from '../../src/core/codec';
import { encodeFrame, encodeFrameHead } from '../../src/core/wire';
import { aeads } from '../../src/crypto/aead';
import { sodiumAeads } from '../../src/crypto/sodium-backend';
import { sodiumReady } from '../../src/crypto/sodium';
import { DeadLetters } from '../../src/node/dead-letters';
import { QUEUED, type Delivery } from '../../src/node/delivery';
import { Router, type Recipient } from '../../src/node/router';

const parts = new ByteParts([Uint8Array.of(1, 2), new Uint8Array(0), Uint8Array.of(3, 4, 5)]);
const joined = Uint8Array.of(1, 2, 3, 4, 5);

/** A recipient that keeps the bodies it was handed. */
class Keeper implements Recipient {
  readonly bodies: unknown[] = [];
  constructor(readonly takesByteParts?: boolean) {}
  deliver(message: LocalMessage): Delivery {
    this.bodies.push(message.body);
    return QUEUED;
  }
}

describe('ByteParts', () => {
  it('is the bytes of its parts, joined', () => {
    expect(parts.length).toBe(5);
    expect(parts.join()).toEqual(joined);
  });

  it('travels as the bytes body of its parts joined: same codec, same encoding, same frame', () => {
    expect(codecFor(parts)).toBe(codecs.bytes);
    expect(encodeBody(parts)).toEqual(encodeBody(joined));
    expect(encodedBodySize(parts)).toBe(encodedBodySize(joined));
    const onward = Route.of([Address.local('sink')]);
    const back = Route.of([Address.local('ctx')]);
    expect(encodeFrame(onward, back, parts)).toEqual(encodeFrame(onward, back, joined));
    // The head a gathering writer puts before the parts is the joined frame's head.
    const head = encodeFrameHead(onward, back, parts.length);
    expect(Buffer.concat([head, ...parts.parts])).toEqual(encodeFrame(onward, back, joined));
  });

  it('reaches an ordinary recipient joined, and as it is only one that takes parts', () => {
    const router = new Router(new DeadLetters(silentLogger));
    const plain = new Keeper();
    const gatherer = new Keeper(true);
    router.register(Address.local('plain'), plain);
    router.register(Address.local('gatherer'), gatherer);
    const message = (to: string) => new LocalMessage(Route.of([Address.local(to)]), Route.EMPTY, parts);
    router.dispatch(message('plain'));
    router.dispatch(message('gatherer'));
    expect(plain.bodies).toEqual([joined]);
    expect(plain.bodies[0]).toBeInstanceOf(Uint8Array);
    expect(gatherer.bodies[0]).toBe(parts);
  });

  it('is held joined by a dead letter', () => {
    const deadLetters = new DeadLetters(silentLogger);
    const router = new Router(deadLetters);
    router.dispatch(new LocalMessage(Route.of([Address.local('nobody')]), Route.EMPTY, parts));
    expect(deadLetters.last?.reason).toBe('no-route');
    expect(deadLetters.last?.message.body).toEqual(joined);
  });
});

describe('Aead.sealParts', () => {
  beforeAll(() => sodiumReady());

  const key = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const nonce = Uint8Array.from({ length: 12 }, (_, i) => 100 + i);
  const ad = Uint8Array.of(9, 8, 7);
  const backends = [
    ['node chacha20poly1305', aeads.chacha20poly1305],
    ['node aes256gcm', aeads.aes256gcm],
    ['libsodium chacha20poly1305', sodiumAeads.chacha20poly1305],
  ] as const;

  // Below and above the size where node:crypto takes over ChaCha (2 KiB), with and without `more`.
  it.each(backends)('%s: the parts joined are what seal gives, and they open', (_, aead) => {
    for (const [size, extra] of [
      [0, 0],
      [100, 0],
      [2047, 1],
      [20_000, 0],
      [20_000, 45_000],
    ] as const) {
      const plaintext = Uint8Array.from({ length: size }, (_, i) => i & 0xff);
      const more = Uint8Array.from({ length: extra }, (_, i) => (i * 3) & 0xff);
      const whole = Buffer.concat([plaintext, more]);
      const sealed = new ByteParts(
        aead.sealParts(key, nonce, ad, plaintext, extra > 0 ? more : undefined),
      ).join();
      expect(Buffer.from(sealed).equals(aead.seal(key, nonce, ad, whole))).toBe(true);
      expect(Buffer.from(aead.open(key, nonce, ad, sealed)!).equals(whole)).toBe(true);
    }
  });
});
