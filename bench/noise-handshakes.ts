/**
 * Runs bare Noise_XX_25519_ChaChaPoly_SHA256 handshakes through `HandshakeState` (two in memory, empty
 * payloads, then `split()`), for profiling the Noise core:
 * `node --cpu-prof -r ts-node/register/transpile-only bench/noise-handshakes.ts [count]`, then
 * `npx ts-node bench/profile-summary.ts <file>.cpuprofile`. Prints handshakes per CPU-second.
 */
import { HandshakeState, generateStaticKey } from '../src/noise';

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 2000);
  const [si, sr] = await Promise.all([generateStaticKey(), generateStaticKey()]);
  const started = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const initiator = await HandshakeState.create({ initiator: true, s: si });
    const responder = await HandshakeState.create({ initiator: false, s: sr });
    await responder.readMessage(await initiator.writeMessage()); // -> e
    await initiator.readMessage(await responder.writeMessage()); // <- e, ee, s, es
    await responder.readMessage(await initiator.writeMessage()); // -> s, se
    initiator.split();
    responder.split();
  }
  const used = process.cpuUsage(started);
  console.log(`${n} handshakes: ${((n * 1e6) / (used.user + used.system)).toFixed(0)} handshakes/cpu-s`);
}

void main();
