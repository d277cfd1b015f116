import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  isSpanContextValid,
  trace,
  type Context as TraceContext,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import { LOCAL, addressTypeName, type Address } from '../core/address';
import { TRACE_INFO, traceOf, type LocalInfo, type LocalMessage } from '../core/message';

/** The span attribute naming the address a message was sent to or handled at. */
export const ADDRESS_ATTRIBUTE = 'sealroute.address';

/**
 * OpenTelemetry trace context carried across hops, for a node created with `tracing: true`. It uses the
 * global tracer and context manager of `@opentelemetry/api` only: without an SDK registered by the
 * application every span is a no-op and nothing is recorded, and with one (say `NodeTracerProvider`, which
 * also installs an async context manager) a request can be followed from node to node:
 *
 * - a message a worker sends while a span is active (the application's, or the one below) gets a short
 *   `PRODUCER` span, child of it, whose context rides on the message as a W3C `traceparent`
 *   (`localInfo[TRACE_INFO]`), written into each frame and inside each secure channel message it crosses;
 * - a message that carries one is handled inside a `CONSUMER` span, its child, so that what the handler sends
 *   continues the same trace. A hub's forwarder is such a handler: it passes the context on unchanged.
 *
 * Spans are named `sealroute send` and `sealroute receive`; their `sealroute.address` attribute is the
 * worker's local address, or the kind of a transport hop (`TCP`): nothing from a message body.
 */
export class NodeTracing {
  private readonly tracer: Tracer = trace.getTracer('sealroute');

  /**
   * The local info of a message sent now: `{ traceparent }` of a new producer span under the active span,
   * or `undefined` (no active span: nothing to continue, nothing added).
   */
  inject(to: Address | undefined): LocalInfo | undefined {
    const active = context.active();
    const parent = trace.getSpanContext(active);
    if (parent === undefined || !isSpanContextValid(parent)) return undefined;
    // A local address by name; a transport hop by its kind only (no host or port).
    const at = to === undefined ? '' : to.type === LOCAL ? to.value : (addressTypeName(to.type) ?? 'hop');
    const span = this.tracer.startSpan(
      'sealroute send',
      { kind: SpanKind.PRODUCER, attributes: { [ADDRESS_ATTRIBUTE]: at } },
      active,
    );
    const sent = span.spanContext();
    span.end();
    // A no-op tracer gives back the parent's context: the trace still goes on, unrecorded here.
    return { [TRACE_INFO]: formatTraceparent(isSpanContextValid(sent) ? sent : parent) };
  }

  /**
   * Runs a worker's handler for `message`: inside a consumer span, child of the context it carries, or with
   * no active span at all when it carries none (so that what the handler sends is traced only when the
   * message was). The span ends when the handler settles; a handler that throws marks it failed.
   */
  handle<R>(message: LocalMessage, address: string, handler: () => R): R {
    const carried = traceOf(message);
    const parent = carried === undefined ? undefined : parseTraceparent(carried);
    if (parent === undefined) return context.with(ROOT_CONTEXT, handler);
    const parentContext: TraceContext = trace.setSpanContext(ROOT_CONTEXT, parent);
    const span = this.tracer.startSpan(
      'sealroute receive',
      { kind: SpanKind.CONSUMER, attributes: { [ADDRESS_ATTRIBUTE]: address } },
      parentContext,
    );
    const failed = (error: unknown): void => {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR });
    };
    let result: R;
    try {
      result = context.with(trace.setSpan(parentContext, span), handler);
    } catch (error) {
      failed(error);
      span.end();
      throw error;
    }
    if (result instanceof Promise) {
      result.then(
        () => span.end(),
        (error: unknown) => {
          failed(error);
          span.end();
        },
      );
    } else {
      span.end();
    }
    return result;
  }
}

/** `00-<trace id>-<span id>-<flags>`. */
export function formatTraceparent(span: SpanContext): string {
  return `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The remote span context of a valid `traceparent` (see `isTraceparent`). */
export function parseTraceparent(text: string): SpanContext | undefined {
  const [version, traceId, spanId, flags] = text.split('-');
  if (version !== '00' || traceId === undefined || spanId === undefined || flags === undefined) return;
  const span: SpanContext = { traceId, spanId, traceFlags: parseInt(flags, 16), isRemote: true };
  return isSpanContextValid(span) ? span : undefined;
}
