/**
 * Alice of the reliability programs: opens a secure channel to Bob through the hub and sends him numbered
 * messages (lib/numbered.ts), in bursts (soak), as a window of requests whose every outcome she records
 * (faults), or as a flood of fresh bodies (a stalled hub). Prints `ready {}`.
 *
 * Options: `--hub host:port`, `--to <forwarding address>`, `--drain-timeout-ms` (her TCP transport's).
 * Commands:
 *   open [timeoutMs]                 (re)open the channel, retrying until it opens or the time is up
 *   burst [n, size]                  n one-way messages, then a flush through the sink: its counts
 *   trafficStart [size, window, timeoutMs] / trafficStatus / trafficStop   numbered requests
 *   floodStart [size] / floodStatus / floodStop   one-way sends of fresh bodies until a connection closes
 *   probe [timeoutMs, first?]        one request to Bob's echoer through the current (or first) channel
 *   sample, censusStart, censusDiff
 */
import { TCP, TCP_DEFAULTS, TrustEveryone, createSecureChannel, route, type SecureChannel } from '../../src';
import { tallyCommands } from '../lib/drop-tally';
import { censusCommands, sampleNode } from '../lib/node-sample';
import { numbered } from '../lib/numbered';
import { startTcpNode } from '../lib/tcp-node';
import { NumberedTraffic, errorLabel } from '../lib/traffic';
import { childLogger, nextTurn, numberOption, options, runChild, serve } from './serve';

/** A flood of one-way sends: how far it got, and what ended it. */
interface Flood {
  /** The number of its first message. */
  first: number;
  sent: number;
  /** The numbers of sends that failed, with the error. */
  errored: [number, string][];
  progressAt: number;
  /** The code of the connection close that ended it. */
  closed: string | undefined;
  /** The error a send failed with, if one did. */
  failed: string | undefined;
  running: boolean;
}

runChild(async () => {
  const args = options({
    hub: { type: 'string' },
    to: { type: 'string' },
    'drain-timeout-ms': { type: 'string' },
  });
  if (args.hub === undefined || args.to === undefined) throw new Error('--hub and --to are required');
  const { node, ctx, tcp, identity } = await startTcpNode('alice', {
    logger: childLogger(),
    tcp: { drainTimeoutMs: numberOption(args['drain-timeout-ms'], TCP_DEFAULTS.drainTimeoutMs) },
  });
  const toBob = route([TCP, args.hub], args.to);
  const channels: SecureChannel[] = [];
  const current = (): SecureChannel => {
    const channel = channels.at(-1);
    if (channel === undefined) throw new Error('no channel: open first');
    return channel;
  };
  let seq = 0;
  let traffic: NumberedTraffic | undefined;
  let flood: Flood | undefined;
  let closedConnections: string[] = [];
  tcp.on(
    'connectionClosed',
    (event) => (closedConnections = [...closedConnections, event.reason.code].slice(-8)),
  );

  serve(
    {},
    {
      async open(a) {
        const deadline = Date.now() + Number(a[0] ?? 30_000);
        const started = Date.now();
        const errors: string[] = [];
        for (;;) {
          try {
            channels.push(
              await createSecureChannel(ctx, identity, toBob, { trustPolicy: TrustEveryone, timeout: 3_000 }),
            );
            return { ms: Date.now() - started, attempts: errors.length + 1, errors };
          } catch (error) {
            errors.push(errorLabel(error));
            if (Date.now() > deadline) throw error;
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        }
      },
      async burst(a) {
        const n = Number(a[0]);
        const size = Number(a[1] ?? 64);
        const sink = route(current(), 'sink');
        const started = performance.now();
        for (let i = 0; i < n; i++) {
          await ctx.send(sink, numbered(seq++, size));
          if (i % 1024 === 1023) await nextTurn();
        }
        const counts = (await ctx.request(sink, 'count', { timeout: 120_000 })).body;
        return { sent: n, ms: performance.now() - started, sink: counts };
      },
      trafficStart(a) {
        const size = Number(a[0] ?? 64);
        const timeout = Number(a[2] ?? 2_000);
        traffic = new NumberedTraffic(
          (n) => ctx.request(route(current(), 'sink'), numbered(n, size, true), { timeout }),
          Number(a[1] ?? 16),
        );
        traffic.start();
        return null;
      },
      trafficStatus: () => ({ ...traffic!.status(), lastError: traffic!.lastError }),
      async trafficStop() {
        const outcomes = await traffic!.stop();
        return { sent: outcomes.sent, acked: outcomes.acked.toBase64(), errored: [...outcomes.errored] };
      },
      floodStart(a) {
        const size = Number(a[0] ?? 16 * 1024);
        const state: Flood = {
          first: seq,
          sent: 0,
          errored: [],
          progressAt: Date.now(),
          closed: undefined,
          failed: undefined,
          running: true,
        };
        flood = state;
        const onClosed = (event: { reason: { code: string } }): void => {
          state.closed = event.reason.code;
          state.running = false;
        };
        tcp.once('connectionClosed', onClosed);
        void (async () => {
          const sink = route(current(), 'sink');
          try {
            while (state.running) {
              // A fresh body each time, as real senders have: queued messages cost their full size.
              const n = seq++;
              state.sent++; // sent from here on: delivered, counted as a drop, or its error seen below
              try {
                await ctx.send(sink, numbered(n, size));
              } catch (error) {
                state.errored.push([n, errorLabel(error)]);
                throw error;
              }
              state.progressAt = Date.now();
              if (state.sent % 256 === 0) await nextTurn();
            }
          } catch (error) {
            state.failed = errorLabel(error); // released by a closing channel or mailbox
          } finally {
            state.running = false;
            tcp.off('connectionClosed', onClosed);
          }
        })();
        return null;
      },
      floodStatus: () => ({
        first: flood!.first,
        sent: flood!.sent,
        errored: flood!.errored,
        sinceProgressMs: Date.now() - flood!.progressAt,
        closed: flood!.closed ?? null,
        failed: flood!.failed ?? null,
        running: flood!.running,
      }),
      floodStop() {
        flood!.running = false;
        return null;
      },
      async probe(a) {
        const channel = a[1] === true ? channels[0]! : current();
        const started = Date.now();
        try {
          await ctx.request(route(channel, 'echoer'), 'probe', { timeout: Number(a[0] ?? 2_000) });
          return { ok: true, ms: Date.now() - started };
        } catch (error) {
          return { ok: false, error: errorLabel(error), ms: Date.now() - started };
        }
      },
      sample: async () => ({
        ...(await sampleNode(node)),
        connections: tcp.connections().length,
        closedConnections,
        channels: channels.length,
        stats: channels.at(-1)?.stats,
      }),
      ...censusCommands(),
      ...tallyCommands(node),
    },
    () => node.stop(),
  );
});
