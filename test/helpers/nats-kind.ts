import { randomBytes } from 'node:crypto';
import { NATS } from '../../src/core/address';
import type { StreamEvents } from '../../src/transport/byte-stream';
import { connectNatsLink, type NatsLink } from '../../src/transport/nats/nats-link';
import { NatsPort } from '../../src/transport/nats/nats-port';
import { NatsTransport } from '../../src/transport/nats/nats-transport';
import type { StreamKind } from './stream-kinds';

/** A fresh subject for a test node. */
export function testSubject(): string {
  return `test.node.${randomBytes(6).toString('hex')}`;
}

/**
 * The NATS transport as the stream compliance suite drives it, on the nats-server at `url()` (started by the
 * test file). A connect to a subject nobody listens on fails only at the connect timeout (core NATS does
 * not say that nobody is there), so the suite's nodes wait 2 s for it, not 10.
 */
export function natsKind(url: () => string): StreamKind {
  return {
    name: 'NatsTransport',
    type: NATS,
    invalid: ['has a space', 'wild.*'],
    create: (node, options) =>
      NatsTransport.create(node, {
        connectTimeoutMs: 2_000,
        ...options,
        nats: { servers: [url()] },
        subject: testSubject(),
      }),
    listenAt: (transport) => (transport as NatsTransport).subject,
    async rawClient(cleanup, address) {
      const link: NatsLink = await connectNatsLink({ servers: [url()] });
      const port = new NatsPort(link, testSubject());
      cleanup.add(async () => {
        port.stop();
        await link.close();
      });
      const stream = port.dial(address);
      let connected!: () => void;
      let closed!: () => void;
      const opened = new Promise<void>((resolve) => (connected = resolve));
      const done = new Promise<void>((resolve) => (closed = resolve));
      const events: StreamEvents = {
        data: () => undefined,
        drain: () => undefined,
        connect: () => connected(),
        idle: () => undefined,
        fail: () => undefined,
        close: () => closed(),
      };
      stream.start(events, { idleTimeoutMs: 0, keepAliveMs: 0 });
      await opened;
      return {
        write: (bytes) => void stream.write(bytes),
        end: (bytes) => {
          if (bytes !== undefined) stream.write(bytes);
          stream.end();
        },
        pause: () => stream.pause(),
        closed: done,
      };
    },
  };
}
