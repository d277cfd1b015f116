import net from 'node:net';

/** Bytes seen by the proxy, in each direction. */
export interface Capture {
  toTarget: Buffer[];
  fromTarget: Buffer[];
}

/** A TCP proxy in front of a server that records every byte it relays (the hub's view of the traffic). */
export class RecordingProxy {
  readonly capture: Capture = { toTarget: [], fromTarget: [] };
  private readonly sockets = new Set<net.Socket>();
  private readonly server: net.Server;

  private constructor(target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.on('data', (chunk: Buffer) => this.capture.toTarget.push(chunk));
      upstream.on('data', (chunk: Buffer) => this.capture.fromTarget.push(chunk));
      client.pipe(upstream).on('close', () => client.destroy());
      upstream.pipe(client).on('close', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  /** Starts a proxy on 127.0.0.1 (a free port) in front of `target` ('host:port'). */
  static async start(target: string): Promise<RecordingProxy> {
    const [host, port] = [
      target.slice(0, target.lastIndexOf(':')),
      Number(target.slice(target.lastIndexOf(':') + 1)),
    ];
    const proxy = new RecordingProxy({ host, port });
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', resolve);
    });
    return proxy;
  }

  get address(): string {
    const { port } = this.server.address() as net.AddressInfo;
    return `127.0.0.1:${port}`;
  }

  /** Every byte relayed, both directions. */
  allBytes(): Buffer {
    return Buffer.concat([...this.capture.toTarget, ...this.capture.fromTarget]);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
