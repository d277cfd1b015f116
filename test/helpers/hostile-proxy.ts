import net from 'node:net';
import { decodeBody } from '../../src/core/codec';
import type { TransportMessage } from '../../src/core/message';
import { DEFAULT_MAX_MESSAGE_SIZE, decodeTransportMessage } from '../../src/core/wire';
import { FrameParser, PREAMBLE, frameHeader } from '../../src/transport/frame-parser';
import { within } from './async';

/** Which way a frame crosses the proxy: from a client to the target (the hub), or back to the client. */
export type Direction = 'toTarget' | 'fromTarget';

/** One frame the proxy read off one direction of one connection (a copy: tampering never touches it). */
export class ProxiedFrame {
  private decoded: { message?: TransportMessage; body?: unknown } | undefined;

  constructor(
    /** The connection, numbered from 0 in the order the proxy accepted them. */
    readonly connection: number,
    readonly direction: Direction,
    /** The frame body, without its length header. */
    readonly bytes: Uint8Array,
  ) {}

  /** The transport message the frame holds; undefined if it does not decode. */
  get message(): TransportMessage | undefined {
    return this.decode().message;
  }

  /** The message's body (bytes for a secure channel frame); undefined if it does not decode. */
  get body(): unknown {
    return this.decode().body;
  }

  private decode(): { message?: TransportMessage; body?: unknown } {
    if (this.decoded === undefined) {
      this.decoded = {};
      try {
        this.decoded.message = decodeTransportMessage(this.bytes);
        this.decoded.body = decodeBody(this.decoded.message.payload);
      } catch {
        // not ours to judge: the proxy passes it on as it came
      }
    }
    return this.decoded;
  }
}

/**
 * What the proxy does to a frame a rule matches: `pass` it on (only recorded, say to replay it later),
 * `flip` a bit of its last byte (inside the AEAD tag of a secure channel frame, or the ephemeral key of a
 * HELLO: the transport message still decodes, so only the channel can tell), `drop` it, or `hold` it until
 * `release()`.
 */
export type Tamper =
  | { readonly kind: 'pass' }
  | { readonly kind: 'flip' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'hold' };

/** A command to the proxy: do `tamper` to the next `times` frames (default 1) that `match`. */
export interface Rule {
  readonly match: (frame: ProxiedFrame) => boolean;
  readonly tamper: Tamper;
  readonly times?: number;
}

/** A rule in force: what it has matched so far, and its held frames. */
export class Interception {
  /** The frames it matched, as they arrived (before tampering). */
  readonly frames: ProxiedFrame[] = [];
  private readonly held: ProxiedFrame[] = [];
  private readonly waiters: (() => void)[] = [];

  constructor(
    readonly rule: Rule,
    private readonly send: (frame: ProxiedFrame) => void,
  ) {}

  private ended = false;

  /** True while it still wants frames. */
  get active(): boolean {
    return !this.ended && this.frames.length < (this.rule.times ?? 1);
  }

  /** Takes the rule out of force: later frames go by the other rules (held ones stay held until `release`). */
  end(): void {
    this.ended = true;
  }

  /** Resolves with its frames once it has matched `count` (default: all it wants); rejects after `timeoutMs`. */
  async matched(count = this.rule.times ?? 1, timeoutMs = 5_000): Promise<ProxiedFrame[]> {
    const enough = new Promise<void>((resolve) => {
      const check = (): void => (this.frames.length >= count ? resolve() : void this.waiters.push(check));
      check();
    });
    await within(enough, timeoutMs, `${count} frame(s) matching the rule`);
    return this.frames.slice(0, count);
  }

  /** Sends the held frames on, in the order they arrived. */
  release(): void {
    for (const frame of this.held.splice(0)) this.send(frame);
  }

  /** @internal Applies the rule to a frame it matched; returns the bytes to send on, if any. */
  apply(frame: ProxiedFrame): Uint8Array | undefined {
    this.frames.push(frame);
    for (const wake of this.waiters.splice(0)) wake();
    const tamper = this.rule.tamper;
    switch (tamper.kind) {
      case 'pass':
        return frame.bytes;
      case 'drop':
        return undefined;
      case 'hold':
        this.held.push(frame);
        return undefined;
      case 'flip': {
        const bytes = frame.bytes.slice();
        bytes[bytes.length - 1] ^= 0x01;
        return bytes;
      }
    }
  }
}

interface Link {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
}

/**
 * A TCP proxy in front of a Sealroute node (a hub) that reads the framing (`SRTP`+version preamble, then
 * `u32 BE length || body` frames, with the transport's own `FrameParser`) in both directions, so that a test
 * can act on single frames: flip a byte, drop, hold back and release out of order, replay a captured frame,
 * or inject one it crafted. Everything it relays is recorded in `frames`.
 */
export class HostileProxy {
  /** Every frame read, both directions, in the order read. */
  readonly frames: ProxiedFrame[] = [];
  private readonly links: Link[] = [];
  private readonly rules: Interception[] = [];
  private readonly server: net.Server;

  private constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => this.accept(client));
  }

  /** Starts a proxy on 127.0.0.1 (a free port) in front of `target` (`host:port`). */
  static async start(target: string): Promise<HostileProxy> {
    const colon = target.lastIndexOf(':');
    const proxy = new HostileProxy({ host: target.slice(0, colon), port: Number(target.slice(colon + 1)) });
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', resolve);
    });
    return proxy;
  }

  /** Where clients connect, as `host:port`. */
  get address(): string {
    return `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  /** Connections accepted so far (the next one gets this number). */
  get connectionCount(): number {
    return this.links.length;
  }

  /** Puts a rule in force; the first active rule that matches a frame decides what happens to it. */
  intercept(rule: Rule): Interception {
    const interception = new Interception(rule, (frame) =>
      this.write(frame.connection, frame.direction, frame.bytes),
    );
    this.rules.push(interception);
    return interception;
  }

  /** Sends `bytes` as one more frame on a direction of a connection, as if its sender had written it. */
  inject(connection: number, direction: Direction, bytes: Uint8Array): void {
    this.write(connection, direction, bytes);
  }

  /** Sends a frame again, the way it went the first time. */
  replay(frame: ProxiedFrame): void {
    this.write(frame.connection, frame.direction, frame.bytes);
  }

  /**
   * Freezes one direction of a connection without closing anything, as a link that stops forwarding: the
   * proxy stops reading what is sent that way, so the sender's socket fills and backs up. Returns the
   * function that thaws it.
   */
  freeze(connection: number, direction: Direction): () => void {
    const link = this.links[connection];
    if (link === undefined) throw new Error(`no connection ${connection}`);
    const from = direction === 'toTarget' ? link.client : link.upstream;
    from.pause();
    return () => from.resume();
  }

  /** Closes every connection and stops listening. */
  async close(): Promise<void> {
    for (const { client, upstream } of this.links) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    const connection = this.links.length;
    // No Nagle on either leg, as on every socket of Sealroute's own: the proxy writes each frame on its own,
    // and with Nagle a frame written while the previous one is unacknowledged waits for the peer's delayed
    // TCP ACK (40 ms on Linux), which made every small round trip through the proxy take ~90 ms.
    const upstream = net.connect({ port: this.target.port, host: this.target.host, noDelay: true });
    client.setNoDelay(true);
    this.links.push({ client, upstream });
    this.relay(connection, 'toTarget', client, upstream);
    this.relay(connection, 'fromTarget', upstream, client);
    for (const [socket, other] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      socket.on('error', () => socket.destroy());
      socket.on('close', () => other.destroy());
    }
  }

  /** Reads frames off `from` and writes them (or what the rules make of them) to `to`. */
  private relay(connection: number, direction: Direction, from: net.Socket, to: net.Socket): void {
    const parser = new FrameParser({ maxFrameSize: DEFAULT_MAX_MESSAGE_SIZE });
    from.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
        // What arrived together leaves together (one write for the frames of one read, as their sender did).
        to.cork();
        for (let event = parser.next(); event !== undefined; event = parser.next()) {
          if (event.kind === 'preamble') {
            to.write(PREAMBLE);
            continue;
          }
          const bytes = event.kind === 'frame' ? event.frame : event.parts.join();
          const frame = new ProxiedFrame(connection, direction, bytes);
          this.frames.push(frame);
          const rule = this.rules.find((r) => r.active && r.rule.match(frame));
          const out = rule === undefined ? frame.bytes : rule.apply(frame);
          if (out !== undefined) this.write(connection, direction, out);
        }
        to.uncork();
      } catch {
        // Not Sealroute framing: nothing sensible to relay.
        from.destroy();
        to.destroy();
      }
    });
  }

  private write(connection: number, direction: Direction, bytes: Uint8Array): void {
    const link = this.links[connection];
    if (link === undefined) throw new Error(`no connection ${connection}`);
    const socket = direction === 'toTarget' ? link.upstream : link.client;
    // Header and body in one write, so frames never interleave.
    socket.write(Buffer.concat([frameHeader(bytes.length), bytes]));
  }
}
