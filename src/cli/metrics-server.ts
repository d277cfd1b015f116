/**
 * The opt-in Prometheus endpoint of a node started by the command: `/metrics` (prom-client's text format,
 * read from `node.metrics()` at scrape time), `/healthz` (the node runs) and `/readyz` (it has finished
 * starting: listeners bound, relays registered). Bounded: GET only, no request bodies, 8 KiB of headers,
 * 5 s per request, 64 connections; loopback unless the configuration says otherwise.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricsSnapshot, NodeMetrics } from '../index';

/** What the endpoint asks the node. */
export interface MetricsSource {
  readonly metrics: NodeMetrics;
  snapshot(): MetricsSnapshot;
  /** The node runs (not stopping). */
  healthy(): boolean;
  /** The node has finished starting and its relays are registered; else why not. */
  ready(): { ready: boolean; reason?: string };
}

/** Builds the registry: every metric reads the latest snapshot when scraped. */
export function metricsRegistry(source: MetricsSource): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sealroute_process_' });
  let snap: MetricsSnapshot = source.snapshot();
  // One snapshot per scrape: the first collector to run takes it.
  const fresh = (): MetricsSnapshot => snap;
  const registers = [registry];
  const counter = (
    name: string,
    help: string,
    labelNames: readonly string[],
    read: (s: MetricsSnapshot) => readonly [Record<string, string>, number][],
    first = false,
  ): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        if (first) snap = source.snapshot();
        this.reset();
        for (const [labels, value] of read(fresh())) this.inc(labels, value);
      },
    });
  };
  const gauge = (
    name: string,
    help: string,
    labelNames: readonly string[],
    read: (s: MetricsSnapshot) => readonly [Record<string, string>, number][],
  ): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, value] of read(fresh())) this.set(labels, value);
      },
    });
  };
  const entries = (
    record: Readonly<Record<string, number>>,
    label: string,
  ): [Record<string, string>, number][] =>
    Object.entries(record).map(([key, value]) => [{ [label]: key }, value]);

  counter(
    'sealroute_messages_routed_total',
    'Messages handed to the node router.',
    [],
    (s) => [[{}, s.messages.routed]],
    true,
  );
  counter('sealroute_messages_delivered_total', 'Routed messages the node did not drop itself.', [], (s) => [
    [{}, s.messages.delivered],
  ]);
  counter('sealroute_dead_letters_total', 'Messages not delivered, by reason.', ['reason'], (s) =>
    entries(s.deadLetters.byReason, 'reason'),
  );
  counter(
    'sealroute_access_denied_total',
    'Messages refused by an access rule or a flow control.',
    ['by'],
    (s) => [
      [{ by: 'access-rule' }, s.accessDenied.accessRules],
      [{ by: 'flow-control' }, s.accessDenied.flowControls],
    ],
  );
  counter('sealroute_failure_notices_sent_total', 'Delivery failure notices sent.', [], (s) => [
    [{}, s.failureNotices.sent],
  ]);
  gauge('sealroute_workers', 'Workers running.', [], (s) => [[{}, s.workers]]);
  gauge('sealroute_channels_open', 'Secure channel ends open.', [], (s) => [[{}, s.channels.open]]);
  counter('sealroute_channels_opened_total', 'Secure channel ends opened, by role.', ['role'], (s) =>
    entries(s.channels.opened, 'role'),
  );
  counter('sealroute_channels_closed_total', 'Secure channel ends closed, by reason.', ['reason'], (s) =>
    entries(s.channels.closed, 'reason'),
  );
  counter(
    'sealroute_channels_failed_total',
    'Handshakes that ended without a channel, by code.',
    ['code'],
    (s) => entries(s.channels.failed, 'code'),
  );
  const perTransport = (
    read: (t: MetricsSnapshot['transports'][string]) => [Record<string, string>, number][],
  ): ((s: MetricsSnapshot) => [Record<string, string>, number][]) => {
    return (s) =>
      Object.entries(s.transports).flatMap(([transport, t]) =>
        read(t).map(([labels, value]): [Record<string, string>, number] => [{ transport, ...labels }, value]),
      );
  };
  gauge(
    'sealroute_connections_open',
    'Transport connections open.',
    ['transport'],
    perTransport((t) => [[{}, t.connectionsOpen]]),
  );
  counter(
    'sealroute_connections_opened_total',
    'Transport connections opened, by direction.',
    ['transport', 'direction'],
    perTransport((t) => entries(t.connectionsOpened, 'direction')),
  );
  counter(
    'sealroute_connections_closed_total',
    'Transport connections closed, by TransportError code.',
    ['transport', 'code'],
    perTransport((t) => entries(t.connectionsClosed, 'code')),
  );
  counter(
    'sealroute_transport_bytes_total',
    'Bytes received and sent, per transport that counts them.',
    ['transport', 'direction'],
    perTransport((t) =>
      t.bytes === undefined
        ? []
        : [
            [{ direction: 'in' }, t.bytes.in],
            [{ direction: 'out' }, t.bytes.out],
          ],
    ),
  );
  const perPortal = (
    read: (p: MetricsSnapshot['portals'][string]) => [Record<string, string>, number][],
  ): ((s: MetricsSnapshot) => [Record<string, string>, number][]) => {
    return (s) =>
      Object.entries(s.portals).flatMap(([portal, p]) =>
        read(p).map(([labels, value]): [Record<string, string>, number] => [
          { portal, side: p.side, ...labels },
          value,
        ]),
      );
  };
  gauge(
    'sealroute_portal_sessions_active',
    'Portal sessions open now.',
    ['portal', 'side'],
    perPortal((p) => [[{}, p.sessionsActive]]),
  );
  counter(
    'sealroute_portal_sessions_opened_total',
    'Portal sessions opened.',
    ['portal', 'side'],
    perPortal((p) => [[{}, p.sessionsOpened]]),
  );
  counter(
    'sealroute_portal_bytes_total',
    'Stream bytes through a portal end: out (read locally, sent through the portal) and in.',
    ['portal', 'side', 'direction'],
    perPortal((p) => [
      [{ direction: 'out' }, p.bytesSent],
      [{ direction: 'in' }, p.bytesReceived],
    ]),
  );
  gauge('sealroute_forwarders_hosted', 'Forwarders live at this node (a hub).', [], (s) => [
    [{}, s.forwarders.hosted],
  ]);
  gauge('sealroute_relays_registered', "This node's relays registered at a hub.", [], (s) => [
    [{}, s.forwarders.registered],
  ]);
  counter('sealroute_relay_reconnects_total', 'Relays that lost their hub and registered again.', [], (s) => [
    [{}, s.forwarders.reconnects],
  ]);
  counter('sealroute_relays_failed_total', 'Relays that gave up re-registering.', [], (s) => [
    [{}, s.forwarders.failed],
  ]);
  const handshakes = new Histogram({
    name: 'sealroute_handshake_duration_seconds',
    help: 'Handshake latency of secure channels this node opened.',
    buckets: [...source.snapshot().channels.handshakeSeconds.buckets],
    registers,
  });
  source.metrics.on('handshake', (seconds) => handshakes.observe(seconds));
  return registry;
}

const MAX_HEADER_BYTES = 8 * 1024;
const REQUEST_TIMEOUT_MS = 5_000;

/** Serves the registry at `host:port`; resolves with the server once it listens. */
export async function serveMetrics(source: MetricsSource, host: string, port: number): Promise<Server> {
  const registry = metricsRegistry(source);
  const server = createServer(
    { maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: REQUEST_TIMEOUT_MS },
    (req, res) => {
      const reply = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
      };
      const length = Number(req.headers['content-length'] ?? 0);
      if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'GET only\n');
      if (length > 0 || req.headers['transfer-encoding'] !== undefined) {
        res.setHeader('connection', 'close');
        return reply(413, 'no request bodies\n');
      }
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/healthz') return source.healthy() ? reply(200, 'ok\n') : reply(503, 'stopping\n');
      if (path === '/readyz') {
        const state = source.ready();
        return state.ready ? reply(200, 'ready\n') : reply(503, `not ready: ${state.reason ?? 'starting'}\n`);
      }
      if (path !== '/metrics') return reply(404, 'not found: try /metrics, /healthz or /readyz\n');
      registry.metrics().then(
        (text) => reply(200, text, registry.contentType),
        (err: unknown) => reply(500, `cannot collect: ${String(err)}\n`),
      );
    },
  );
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = 5_000;
  server.maxConnections = 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Serves the endpoint at `listen` (`host:port`); resolves with the server, its port and its metrics URL. */
export async function startMetricsEndpoint(
  listen: string,
  source: MetricsSource,
): Promise<{ server: Server; port: number; url: string }> {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const server = await serveMetrics(source, host, Number(listen.slice(colon + 1)));
  const address = server.address();
  const port =
    typeof address === 'object' && address !== null ? address.port : Number(listen.slice(colon + 1));
  return { server, port, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics` };
}
