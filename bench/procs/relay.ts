/**
 * The raw relay of the hub benchmarks' baselines: for each target port given as argument, a listener on a
 * free port of 127.0.0.1 that pipes the bytes of every connection to a new connection to the target and
 * back (Nagle off both ways, backpressure by `pipe`). It does nothing a hub must do per message (framing,
 * routing), so it is the floor for a hub. Prints `ready <port per target>`.
 */
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { runProgram, serveCommands } from './command-loop';

function relay(target: number): Promise<Server> {
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

runProgram(async () => {
  const servers = await Promise.all(process.argv.slice(2).map((port) => relay(Number(port))));
  serveCommands(
    servers.map((server) => (server.address() as AddressInfo).port),
    {},
    () => servers.forEach((server) => server.close()),
  );
});
