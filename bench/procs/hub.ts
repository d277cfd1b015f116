/**
 * The hub of the hub benchmarks (examples/hub.ts without decorators): a node with a TCP listener on a free
 * port of 127.0.0.1 and a forwarding service. Prints `ready <host:port>`; with the argument `ws`, it also
 * listens on WebSocket and prints `ready <host:port> ws#<host:port/path>`.
 */
import { ForwardingService, NodeRuntime, TcpTransport, WebSocketTransport, silentLogger } from '../../src';
import { runProgram, serveCommands } from './command-loop';

runProgram(async () => {
  const node = new NodeRuntime({ logger: silentLogger });
  const tcp = await TcpTransport.create(node);
  await ForwardingService.create(node.context('hub'), 'forwarding_service');
  const bound = [await tcp.listen('127.0.0.1:0')];
  if (process.argv[2] === 'ws') {
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
        }),
    },
    () => node.stop(),
  );
});
