import { LastRoute } from '../../src/core/route-cache';
import { decodeTransportMessage, encodeTransportMessage } from '../../src/core/wire';
import { route } from '../../src/internal';

/** A transport message's bytes in a Buffer (what a socket hands a reader), with `onward` as its onward route. */
function frame(onward: string): Buffer {
  return Buffer.from(
    encodeTransportMessage({
      onwardRoute: route(onward),
      returnRoute: route('back'),
      payload: new Uint8Array(1),
    }),
  );
}

describe('route caches', () => {
  // Both caches keep the bytes a route was decoded from; a Buffer's own slice is a view, so a buffer reused
  // for the next frame (a slab, a pooled read) would change the kept bytes under the cached route.
  it('keep a copy of the bytes, so a reused buffer never answers with the route decoded before', () => {
    const first = frame('worker-a');
    const second = frame('worker-b');
    expect(second.length).toBe(first.length);
    for (const cache of [true, new LastRoute()] as const) {
      const reused = Buffer.from(first);
      expect(decodeTransportMessage(reused, undefined, cache, false).onwardRoute.toString()).toBe(
        route('worker-a').toString(),
      );
      second.copy(reused);
      expect(decodeTransportMessage(reused, undefined, cache, false).onwardRoute.toString()).toBe(
        route('worker-b').toString(),
      );
    }
  });

  it('give back the same Route for the same bytes', () => {
    const last = new LastRoute();
    const a = decodeTransportMessage(frame('worker-c'), undefined, last, false).onwardRoute;
    expect(decodeTransportMessage(frame('worker-c'), undefined, last, false).onwardRoute).toBe(a);
  });
});
