import { within } from '../helpers/async';
import { scaled } from '../helpers/slowdown';
import { Cleanup } from '../helpers/tcp-fixtures';
import { connectTo, startEchoServer, startPortal } from './portal-fixtures';

// Many tiny request/response round trips on one session (what pgbench and redis-benchmark do), through
// inlet -> capturing proxy -> hub -> outlet. Frames written moments apart the same way (a session's ACK and
// its next DATA) went through the proxy as separate writes, and with Nagle's algorithm on its legs the
// second waited for the hub's delayed TCP ACK (40 ms): round trips took ~90 ms and the real-client tests
// timed out. Unstalled, a round trip takes about a millisecond here.

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** `rounds` round trips of `size` bytes, one at a time, on a new connection to `address`. */
async function roundTrips(address: string, rounds: number, size: number): Promise<number> {
  const client = await connectTo(cleanup, address);
  client.setNoDelay(true); // as database clients do
  const request = Buffer.alloc(size, 0x61);
  let done = 0;
  let pending = 0;
  await new Promise<void>((resolve, reject) => {
    client.on('error', reject);
    client.on('close', () => reject(new Error(`the connection closed after ${done} round trips`)));
    client.on('data', (chunk: Buffer) => {
      pending += chunk.length;
      while (pending >= size) {
        pending -= size;
        if (++done === rounds) return resolve();
        client.write(request);
      }
    });
    client.write(request);
  });
  client.end();
  return done;
}

describe('TCP portal, many small round trips', () => {
  it(
    'carries 3,000 tiny request/response round trips on one session without stalling',
    async () => {
      const echo = await startEchoServer(cleanup);
      const portal = await startPortal(cleanup, echo.address);
      const rounds = 3_000;
      // Stalled, this takes ~270 s; unstalled a few seconds. The budget (15 s scaled) sits far from both.
      const done = await within(
        roundTrips(portal.inlet.address, rounds, 37),
        15_000,
        `${rounds} round trips`,
      );
      expect(done).toBe(rounds);
      expect(portal.inlet.stats.bytesSent).toBe(rounds * 37);
      expect(portal.outlet.stats.errors).toEqual({});
    },
    scaled(60_000),
  );

  it(
    'with the smallest window, ACKs as frequent as requests, round trips do not stall',
    async () => {
      // A 1 KiB window: an ACK each 256 bytes written, so every other round trip of 128 bytes the inlet sends
      // an ACK and, moments later, the next request: two frames one after the other the same way.
      const echo = await startEchoServer(cleanup);
      const window = { windowBytes: 1024 };
      const portal = await startPortal(cleanup, echo.address, { inlet: window, outlet: window });
      const rounds = 3_000;
      // Stalled, ~40 ms every other round trip (60 s); unstalled a few seconds.
      const done = await within(
        roundTrips(portal.inlet.address, rounds, 128),
        15_000,
        `${rounds} round trips`,
      );
      expect(done).toBe(rounds);
      expect(portal.outlet.stats.errors).toEqual({});
    },
    scaled(60_000),
  );
});
