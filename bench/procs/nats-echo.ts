/**
 * The NATS floor's other end (bench/federation.bench.ts): a bare `@nats-io/transport-node` client that
 * subscribes to `<subject>.ping` and publishes every message back, unchanged, on `<subject>.pong`. Nothing of
 * Sealroute: what two processes' NATS clients and the server cost for one round trip.
 *
 *   nats-echo <url> <subject>
 */
import { connect } from '@nats-io/transport-node';
import { runProgram, serveCommands } from './command-loop';

runProgram(async () => {
  const [url, subject] = process.argv.slice(2);
  if (url === undefined || subject === undefined) throw new Error('usage: nats-echo <url> <subject>');
  const nc = await connect({ servers: [url] });
  nc.subscribe(`${subject}.ping`, {
    callback: (err: Error | null, msg: { data: Uint8Array }) => {
      if (err === null) nc.publish(`${subject}.pong`, msg.data);
    },
  });
  await nc.flush();
  serveCommands([subject], {}, () => nc.close());
});
