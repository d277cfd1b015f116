import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { TCP } from '../../src/core/address';
import { TRACE_INFO, type Routed } from '../../src/core/message';
import { route } from '../../src/core/route';
import { createSecureChannel } from '../../src/channel/create-secure-channel';
import { createSecureChannelListener } from '../../src/channel';
import { Identity, TrustAnyIdentity } from '../../src/identity';
import { ForwardingService } from '../../src/services/forwarding-service';
import { RemoteForwarder } from '../../src/services/remote-forwarder';
import { InMemoryVault } from '../../src/vault';
import { Cleanup, startTcpNode, type TcpTestNode } from '../helpers/tcp-fixtures';

const exporter = new InMemorySpanExporter();
const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => {
  // What an application does to record spans: an SDK provider and an async context manager, registered
  // globally; Sealroute itself only calls @opentelemetry/api.
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
});
afterAll(() => {
  trace.disable();
  context.disable();
});

const cleanup = new Cleanup();
afterEach(async () => {
  await cleanup.run();
  exporter.reset();
});

/** Alice -> hub -> Bob over TCP, every node with `tracing: true`; Bob registered `fwd.n.bob` at the hub. */
async function story(): Promise<{
  alice: TcpTestNode;
  hub: TcpTestNode;
  bob: TcpTestNode;
  bobIdentity: Identity;
  received: Routed<unknown>[];
}> {
  const hub = await startTcpNode(cleanup, { node: { tracing: true } });
  await ForwardingService.start(hub.ctx, 'forwarding_service');
  const bob = await startTcpNode(cleanup, { listen: false, node: { tracing: true } });
  const bobIdentity = await Identity.create(await InMemoryVault.create());
  await createSecureChannelListener(bob.ctx, bobIdentity, 'listener', { trustPolicy: TrustAnyIdentity });
  const received: Routed<unknown>[] = [];
  await bob.node.startWorker(
    'echoer',
    {
      handleMessage: (ctx, message) => {
        received.push(message);
        return ctx.send(message.returnRoute, message.body);
      },
    },
    { acceptsTransportMessages: true },
  );
  const forwarder = await RemoteForwarder.create(bob.ctx, route([TCP, hub.address]), 'listener', {
    name: 'bob',
    deliverTo: ['listener', 'echoer'],
  });
  cleanup.add(() => forwarder.stop());
  const alice = await startTcpNode(cleanup, { listen: false, node: { tracing: true } });
  return { alice, hub, bob, bobIdentity, received };
}

const tracer = trace.getTracer('test');
const spansOf = (traceId: string): ReadableSpan[] =>
  exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
/** `send <address>` or `receive <address>` of a Sealroute span; the application's own by name. */
const spanText = (span: ReadableSpan): string =>
  span.name.startsWith('sealroute ')
    ? `${span.name.slice('sealroute '.length)} ${String(span.attributes['sealroute.address'])}`
    : span.name;
const names = (spans: readonly ReadableSpan[]): string[] => spans.map(spanText);

describe('trace context across hops (tracing: true)', () => {
  it('follows a plain message Alice -> hub -> Bob and back in one trace; the hub carries it unchanged', async () => {
    const { alice, hub, received } = await story();
    const traceId = await tracer.startActiveSpan('alice asks', async (span) => {
      await alice.ctx.send(route([TCP, hub.address], 'fwd.n.bob', 'echoer'), 'hello');
      expect((await alice.ctx.receive({ timeout: 5_000 })).body).toBe('hello');
      span.end();
      return span.spanContext().traceId;
    });
    const spans = spansOf(traceId);
    // Alice's send, the hub's forwarder, Bob's echoer, Bob's reply and the hub's forwarder back to Alice.
    expect(names(spans)).toEqual(
      expect.arrayContaining(['alice asks', 'send TCP', 'receive fwd.n.bob', 'receive echoer']),
    );
    const root = spans.find((s) => s.name === 'alice asks')!;
    const aliceSend = spans.find((s) => s.parentSpanContext?.spanId === root.spanContext().spanId)!;
    expect(spanText(aliceSend)).toBe('send TCP');
    // What reached Bob is what Alice sent: the hub's own span did not replace it.
    expect(received[0]!.localInfo[TRACE_INFO]).toBe(`00-${traceId}-${aliceSend.spanContext().spanId}-01`);
    const echoer = spans.find((s) => spanText(s) === 'receive echoer')!;
    expect(echoer.parentSpanContext?.spanId).toBe(aliceSend.spanContext().spanId);
  });

  it('carries it inside a secure channel through the hub: Bob joins the trace, the hub sees none of it', async () => {
    const { alice, hub, bobIdentity, received } = await story();
    const aliceIdentity = await Identity.create(await InMemoryVault.create());
    const channel = await createSecureChannel(
      alice.ctx,
      aliceIdentity,
      route([TCP, hub.address], 'fwd.n.bob', 'listener'),
      { trustPolicy: TrustAnyIdentity },
    );
    exporter.reset(); // the handshake, untraced, is not what this test is about
    const traceId = await tracer.startActiveSpan('alice asks privately', async (span) => {
      const reply = await alice.ctx.request(route(channel, 'echoer'), 'secret', { timeout: 5_000 });
      expect(reply.body).toBe('secret');
      span.end();
      return span.spanContext().traceId;
    });
    expect(received[0]!.localInfo[TRACE_INFO]).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    const spans = spansOf(traceId);
    expect(names(spans)).toEqual(expect.arrayContaining(['receive echoer']));
    // The frames through the hub carry no trace context: its forwarder handled them outside any trace.
    expect(names(exporter.getFinishedSpans())).not.toContain('receive fwd.n.bob');
    expect(bobIdentity.identifier).toBe(channel.remoteIdentifier);
  });

  it('adds nothing to messages sent with no active span, or by a node without tracing', async () => {
    const { alice, hub, received } = await story();
    await alice.ctx.send(route([TCP, hub.address], 'fwd.n.bob', 'echoer'), 'untraced');
    await alice.ctx.receive({ timeout: 5_000 });
    expect(received[0]!.localInfo[TRACE_INFO]).toBeUndefined();

    const plain = await startTcpNode(cleanup, { listen: false });
    await tracer.startActiveSpan('a span the node ignores', async (span) => {
      await plain.ctx.send(route([TCP, hub.address], 'fwd.n.bob', 'echoer'), 'plain node');
      await plain.ctx.receive({ timeout: 5_000 });
      span.end();
    });
    expect(received[1]!.localInfo[TRACE_INFO]).toBeUndefined();
  });
});
