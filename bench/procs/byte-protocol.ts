/**
 * What the baseline client and server of the hub benchmarks say to each other over raw TCP or TLS: the
 * least a request/reply or bulk protocol can do. The client's first byte picks the mode:
 *
 *   ECHO  every byte that follows is sent straight back (the client sends 64 bytes and waits for 64);
 *   SINK  rounds of `total:f64be` then `total` bytes; the server answers each round with one ACK byte.
 *
 * A TLS server first sends one READY byte once the handshake has completed on its side (it has verified
 * the client's certificate): the client's proof that the server accepted it, like a channel's ACCEPTED.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { startClock } from '../harness';

export const Mode = { ECHO: 0x45, SINK: 0x53 } as const;
export const ACK = 0x41;
export const READY = 0x4b;
/** The `total` that opens a SINK round. */
export const SINK_HEADER_LENGTH = 8;

/** Serves one connection (after the TLS READY byte, if any) in the mode its first byte names. */
export function serveConnection(socket: Socket): void {
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy()); // a client that went away: nothing to report
  let mode: number | undefined;
  let header = Buffer.alloc(0);
  let remaining = 0;
  socket.on('data', (chunk: Buffer) => {
    let data = chunk;
    if (mode === undefined) {
      mode = data[0];
      data = data.subarray(1);
    }
    if (mode === Mode.ECHO) {
      if (data.length > 0) socket.write(data);
      return;
    }
    while (data.length > 0) {
      if (remaining === 0) {
        const take = Math.min(SINK_HEADER_LENGTH - header.length, data.length);
        header = Buffer.concat([header, data.subarray(0, take)]);
        data = data.subarray(take);
        if (header.length < SINK_HEADER_LENGTH) return;
        remaining = header.readDoubleBE(0);
        header = Buffer.alloc(0);
        continue;
      }
      const take = Math.min(remaining, data.length);
      remaining -= take;
      data = data.subarray(take);
      if (remaining === 0) socket.write(Buffer.of(ACK));
    }
  });
}

/** Counts the bytes a socket receives, so that a client can wait for the next `n`. */
export class ByteCounter {
  private owed = 0;
  private wake: (() => void) | undefined;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.owed -= chunk.length;
      if (this.owed <= 0 && this.wake !== undefined) {
        const wake = this.wake;
        this.wake = undefined;
        wake();
      }
    });
  }

  /** Resolves once `n` more bytes than asked for before have arrived (bytes that came early count). */
  next(n: number): Promise<void> {
    this.owed += n;
    if (this.owed <= 0) return Promise.resolve();
    return new Promise((resolve) => (this.wake = resolve));
  }
}

/**
 * A bulk round as the baselines' clients run it: the sink's header (the byte count), `n` writes of `chunk`
 * (waiting for `drain` when the socket says so), then the sink's one-byte acknowledgement: MB/s (10^6 bytes).
 */
export async function sendBulk(
  socket: Socket,
  counter: ByteCounter,
  n: number,
  chunk: Uint8Array,
): Promise<number> {
  const header = Buffer.alloc(SINK_HEADER_LENGTH);
  header.writeDoubleBE(n * chunk.length);
  const clock = startClock('wall');
  socket.write(header);
  for (let i = 0; i < n; i++) {
    if (!socket.write(chunk)) await once(socket, 'drain');
  }
  await counter.next(1);
  return clock.perSecond((n * chunk.length) / 1e6);
}
