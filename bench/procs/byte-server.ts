/**
 * The server of the hub benchmarks' baselines (byte-protocol.ts): one raw TCP listener, one TLS 1.3
 * listener that requires a client certificate (mutual authentication, as a secure channel has), and one
 * TLS 1.3 listener that does not, each on a free port of 127.0.0.1. Argument: the directory of the PEM
 * files (server.key, server.crt, client.crt). Prints `ready <raw port> <mutual TLS port> <TLS port>`.
 */
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { READY, serveConnection } from './byte-protocol';
import { runProgram, serveCommands } from './command-loop';
import { TLS_OPTIONS } from './tls-options';

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

runProgram(async () => {
  const dir = process.argv[2]!;
  const pem = (file: string): string => readFileSync(join(dir, file), 'utf8');
  const raw = createServer(serveConnection);
  const tls = (requestCert: boolean): Server => {
    const server = createTlsServer(
      {
        ...TLS_OPTIONS,
        key: pem('server.key'),
        cert: pem('server.crt'),
        ca: [pem('client.crt')],
        requestCert,
        rejectUnauthorized: true,
      },
      (socket) => {
        socket.write(Buffer.of(READY));
        serveConnection(socket);
      },
    );
    server.on('tlsClientError', () => undefined); // a client that hung up mid-handshake
    return server;
  };
  const servers = [raw, tls(true), tls(false)];
  const ports = await Promise.all(servers.map(listen));
  serveCommands(ports, {}, () => servers.forEach((server) => server.close()));
});
