/**
 * The hub of the hub benchmarks (examples/hub.ts without decorators): a node with a TCP listener on a free
 * port of 127.0.0.1 and a forwarding service. Prints `ready <host:port>`; with the argument `ws`, it also
 * listens on WebSocket and prints `ready <host:port> ws#<host:port/path>`. With `nats <url> <name>`, it is
 * hub `<name>` of a federation on that nats-server (`startFederatedHub`), and answers `where <name>` with
 * the hub a name's record points to (`-` while it has none).
 */
import {
  ForwardingService,
  NodeRuntime,
  TcpTransport,
  WebSocketTransport,
  silentLogger,
  startFederatedHub,
  type FederatedHub,
} from '../../src';
import { runProgram, serveCommands } from './command-loop';

runProgram(async () => {
  const node = new NodeRuntime({ logger: silentLogger });
  const tcp = await TcpTransport.create(node);
  const [mode, natsUrl, name] = process.argv.slice(2);
  let federated: FederatedHub | undefined;
  if (mode === 'nats') {
    const ctx = node.context('hub', { acceptsTransportMessages: true });
    federated = await startFederatedHub(ctx, { nats: { servers: [natsUrl!] }, hub: name! });
  } else {
    await ForwardingService.create(node.context('hub'), 'forwarding_service');
  }
  const bound = [await tcp.listen('127.0.0.1:0')];
  if (mode === 'ws') {
    bound.push(`ws#${await (await WebSocketTransport.create(node)).listen('127.0.0.1:0/sealroute')}`);
  }
  serveCommands(
    bound,
    {
      drops: () =>
        JSON.stringify({
          deadLetters: node.deadLetters.count,
          undeliverable: node.deadLetters.countOf('undeliverable'),
          queueBytesRefused: tcp.stats.queueBytesRefused,
          notices: node.failureNotices.stats,
          federation: federated?.federation.stats(),
        }),
      where: (args) => federated?.federation.whereIs(args[0] ?? '') ?? '-',
    },
    async () => {
      await federated?.stop();
      await node.stop();
    },
  );
});
