import { describeRun, runExample } from '../helpers/run-example';
import { scaled } from '../helpers/slowdown';

// Slow work on a busy machine: a budget scaled by its measured slowdown.
jest.setTimeout(scaled(70_000));

describe('examples/03-secure-channel.ts', () => {
  it('echoes through a secure channel and prints both identifiers', async () => {
    const result = await runExample('examples/03-secure-channel.ts', { timeoutMs: 60_000 });
    if (result.code !== 0) throw new Error(describeRun(result));
    expect(result.stderr).toBe('');
    const [aliceLine, bobLine, ...rest] = result.lines;
    const alice = /^Alice is (I[0-9a-f]{40})$/.exec(aliceLine ?? '')?.[1];
    const bob = /^Bob is (I[0-9a-f]{40})$/.exec(bobLine ?? '')?.[1];
    expect(alice).toBeDefined();
    expect(bob).toBeDefined();
    expect(rest).toEqual([
      `Alice has a secure channel to ${bob}`,
      `Echoer received "hello through the channel" from ${alice}`,
      `Alice received "hello through the channel" from ${bob}`,
    ]);
  });
});
