import { connect, type Socket } from 'node:net';
import type { ByteStream, StreamEvents, StreamSettings } from '../byte-stream';
import { ReadSlab } from './read-slab';

/** A TCP socket as a `ByteStream`: the socket's own buffering, `'drain'`, idle timeout and keepalive. */
export class TcpStream implements ByteStream {
  private error: Error | undefined;
  /** Where `data` goes once started; a slab's reads arrive through it. */
  private data: ((chunk: Uint8Array) => void) | undefined;

  /**
   * A socket node:net made (an accepted one): its reads are node's, a buffer each. `slab`: the socket reads
   * into it (`onread`, see `TcpStream.dial`).
   */
  constructor(
    readonly socket: Socket,
    private readonly slab?: ReadSlab,
  ) {}

  /**
   * Connects out, reading into a `ReadSlab` so that a frame spanning reads is not copied. (node:net offers
   * `onread` to outgoing sockets only, so an accepted socket reads the usual way.)
   */
  static dial(host: string, port: number): TcpStream {
    const slab = new ReadSlab();
    let stream: TcpStream | undefined = undefined;
    const socket = connect({
      host,
      port,
      onread: {
        buffer: slab.region,
        // `start` runs in the turn that dialled, before the socket can connect, so `data` is set by then.
        // True: go on reading (`pause` is how backpressure stops it).
        callback: (count: number) => {
          stream!.data!(slab.took(count));
          return true;
        },
      },
    });
    stream = new TcpStream(socket, slab);
    return stream;
  }

  start(events: StreamEvents, settings: StreamSettings): void {
    const socket = this.socket;
    socket.setNoDelay(true);
    if (settings.keepAliveMs > 0) socket.setKeepAlive(true, settings.keepAliveMs);
    if (settings.idleTimeoutMs > 0) socket.setTimeout(settings.idleTimeoutMs);
    this.data = events.data;
    if (this.slab === undefined) socket.on('data', events.data);
    // Flowing, as a 'data' listener makes it: without it node:net would not see the peer's FIN through.
    else socket.resume();
    socket.on('drain', events.drain);
    socket.on('error', (err) => (this.error ??= err));
    socket.on('timeout', events.idle);
    socket.once('connect', events.connect);
    socket.once('close', () => events.close(this.error));
  }

  write(bytes: Uint8Array): boolean {
    // Node's own mark (16 KiB) is under one 64 KiB frame: every large frame made its sender wait for a
    // 'drain', and the frames of one message left in separate writes. Once the socket's write returned
    // false it emits 'drain' when its buffer empties, so telling the writer to go on below our mark is safe.
    const taken = this.socket.write(bytes);
    return taken || this.socket.writableLength < WRITE_BUFFER_BYTES;
  }

  unsentBytes(): number {
    // Node's buffer counts the write in progress whole until it completes; libuv knows how much of it is
    // still queued (the rest is in the kernel, which a destroy does not lose).
    const socket = this.socket as Socket & {
      _writableState?: { writing?: boolean; writelen?: number };
      _handle?: { writeQueueSize?: number } | null;
    };
    const state = socket._writableState;
    if (state?.writing !== true) return socket.writableLength;
    return socket.writableLength - (state.writelen ?? 0) + (socket._handle?.writeQueueSize ?? 0);
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    this.socket.end();
    this.socket.resume(); // read (and ignore) until the peer's FIN, even if paused for backpressure
  }

  destroy(): void {
    this.socket.destroy();
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }
}

/**
 * Bytes a socket may hold unsent before its writer waits for 'drain': a few 64 KiB frames (a secure
 * channel's largest), so that a message's frames leave together; per connection, beside the up to
 * `maxQueuedBytesPerConnection` its mailbox may hold, so a peer that stops reading still bounds it.
 */
const WRITE_BUFFER_BYTES = 256 * 1024;
