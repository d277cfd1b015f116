/**
 * `npm run portal-gib [MiB]`: 1 GiB (or MiB given) through a portal, every party a process (bench/procs/: the
 * hub, Bob's outlet, Alice's inlet), into a server in this process that hashes what it receives and answers
 * with its SHA-256 once the client half-closes; the client (here too) hashes what it sent. Prints both
 * digests, the rate, and exits 1 if they differ. Too long for the test suite, which moves 8 MiB each way.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { BenchProcess } from './procs/spawn';

async function main(): Promise<void> {
  const mib = Number(process.argv[2] ?? 1024);
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const hash = createHash('sha256');
    socket.on('data', (chunk: Buffer) => hash.update(chunk));
    socket.on('end', () => socket.end(hash.digest('hex')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const children: BenchProcess[] = [];
  try {
    const start = async (program: string, args: string[]): Promise<string[]> => {
      const { process: child, ready } = await BenchProcess.start(program, args);
      children.push(child);
      return ready;
    };
    const [hub] = await start('hub', []);
    const [forwardingAddress] = await start('portal-bob', [
      hub!,
      String((server.address() as AddressInfo).port),
    ]);
    const [inletPort] = await start('portal-alice', [hub!, forwardingAddress!, '1']);

    const socket = connect({ port: Number(inletPort), host: '127.0.0.1', allowHalfOpen: true });
    await once(socket, 'connect');
    const replies: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => replies.push(chunk));
    const sent = createHash('sha256');
    const block = randomBytes(1024 * 1024); // varied per MiB below, so a misplaced block changes the digest
    const started = performance.now();
    for (let i = 0; i < mib; i++) {
      block.writeUInt32BE(i, 0);
      sent.update(block);
      if (!socket.write(Buffer.from(block))) await once(socket, 'drain');
    }
    socket.end();
    await once(socket, 'close');
    const seconds = (performance.now() - started) / 1000;
    const expected = sent.digest('hex');
    const received = Buffer.concat(replies).toString();
    console.log(`sent     ${mib} MiB, SHA-256 ${expected}`);
    console.log(`received          SHA-256 ${received}`);
    console.log(`${((mib * 1024 * 1024) / 1e6 / seconds).toFixed(1)} MB/s over ${seconds.toFixed(1)} s`);
    if (received !== expected) {
      console.log('MISMATCH');
      process.exitCode = 1;
    } else {
      console.log('match');
    }
  } finally {
    for (const child of children.reverse()) await child.stop();
    server.close();
  }
}

void main();
