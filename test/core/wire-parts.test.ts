import { ByteParts } from '../../src/core/byte-parts';
import { DecodeError } from '../../src/core/errors';
import { route } from '../../src/core/route';
import { encodeFrame } from '../../src/core/wire';
import { decodeFrame, decodeFrameParts } from '../../src/core/wire-parts';

const MAX = 1 << 20;

/** `bytes` cut at `cuts`, each piece in a buffer of its own. */
function cutAt(bytes: Uint8Array, cuts: number[]): ByteParts {
  const bounds = [0, ...cuts, bytes.length];
  return new ByteParts(bounds.slice(1).map((end, i) => Uint8Array.from(bytes.subarray(bounds[i], end))));
}

describe('decodeFrameParts', () => {
  const body = Uint8Array.from({ length: 40_000 }, (_, i) => (i * 7) & 0xff);
  const frame = encodeFrame(route('fwd.r.bob', 'listener'), route('back'), body, MAX);
  const whole = decodeFrame(frame, MAX);

  it('reads the routes from the first piece and leaves a bytes body as views of the pieces', () => {
    const parts = cutAt(frame, [1_000, 30_000]);
    const decoded = decodeFrameParts(parts, MAX);
    expect(decoded.onwardRoute.toString()).toBe(whole.onwardRoute.toString());
    expect(decoded.returnRoute.toString()).toBe(whole.returnRoute.toString());
    expect(decoded.body).toBeInstanceOf(ByteParts);
    const views = (decoded.body as ByteParts).parts;
    expect(views.map((view) => view.buffer)).toEqual(parts.parts.map((part) => part.buffer));
    expect(Buffer.from((decoded.body as ByteParts).join()).equals(body)).toBe(true);
  });

  it('decodes the same whatever the cut: inside the routes, at the body tag, right after it', () => {
    const tagAt = frame.length - body.length - 1;
    for (const cut of [1, 5, tagAt, tagAt + 1, tagAt + 2]) {
      const decoded = decodeFrameParts(cutAt(frame, [cut]), MAX);
      expect(decoded.onwardRoute.toString()).toBe(whole.onwardRoute.toString());
      const bytes = decoded.body instanceof ByteParts ? decoded.body.join() : (decoded.body as Uint8Array);
      expect(Buffer.from(bytes).equals(body)).toBe(true);
    }
  });

  it('decodes any other body as a whole frame would be', () => {
    const text = 'x'.repeat(30_000);
    const encoded = encodeFrame(route('a'), route('b'), text, MAX);
    expect(decodeFrameParts(cutAt(encoded, [100]), MAX).body).toBe(text);
    const object = { n: 1, list: Array.from({ length: 5_000 }, (_, i) => i) };
    const cbor = encodeFrame(route('a'), route('b'), object, MAX);
    expect(decodeFrameParts(cutAt(cbor, [50, 4_000]), MAX).body).toEqual(object);
  });

  it('throws DecodeError for a frame that does not decode, as decodeFrame does', () => {
    const broken = Uint8Array.from(frame);
    broken[0] = 99; // an unknown wire version
    expect(() => decodeFrameParts(cutAt(broken, [2_000]), MAX)).toThrow(DecodeError);
    expect(() => decodeFrameParts(cutAt(frame, [2_000]), 1_000)).toThrow(DecodeError);
    // Too large as a whole, though its first piece alone is not.
    expect(() => decodeFrameParts(cutAt(frame, [500]), 30_000)).toThrow(/exceeds/);
  });
});
