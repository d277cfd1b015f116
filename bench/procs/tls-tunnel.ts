/**
 * A TLS 1.3 tunnel end, as stunnel would be, for the portal benchmarks' baseline. `server <pem dir>
 * <target port...>`: for each target, a TLS listener (client certificate required: mutual authentication,
 * as a secure channel has) on a free port whose every connection is piped to a new TCP connection to the
 * target. `client <pem dir> <remote port...>`: for each remote (a TLS server, through the relay), a plain TCP
 * listener on a free port whose every connection is piped into a new TLS connection to it. Nagle off
 * everywhere, backpressure by `pipe`. Prints `ready <port per target or remote>`.
 */
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as connectTls, createServer as createTlsServer } from 'node:tls';
import { runProgram, serveCommands } from './command-loop';
import { TLS_OPTIONS } from './tls-options';

function join2(a: Socket, b: Socket): void {
  for (const socket of [a, b]) {
    socket.setNoDelay(true);
    socket.on('error', () => {
      a.destroy();
      b.destroy();
    });
  }
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
  a.pipe(b);
  b.pipe(a);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

runProgram(async () => {
  const [mode, dir, ...ports] = process.argv.slice(2) as [string, string, ...string[]];
  const pem = (file: string): string => readFileSync(join(dir, file), 'utf8');
  const servers = ports.map((port) => {
    if (mode === 'server') {
      const server = createTlsServer(
        { ...TLS_OPTIONS, key: pem('server.key'), cert: pem('server.crt'), ca: [pem('client.crt')] },
        (socket) => join2(socket, connect(Number(port), '127.0.0.1')),
      );
      server.on('tlsClientError', () => undefined);
      return server;
    }
    return createServer((socket) => {
      const tls = connectTls({
        ...TLS_OPTIONS,
        ca: [pem('server.crt')],
        servername: 'localhost',
        key: pem('client.key'),
        cert: pem('client.crt'),
        host: '127.0.0.1',
        port: Number(port),
      });
      join2(socket, tls);
    });
  });
  serveCommands(await Promise.all(servers.map(listen)), {}, () =>
    servers.forEach((server) => server.close()),
  );
});
