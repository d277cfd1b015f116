import { within } from '../helpers/async';
import { describeRun } from '../helpers/run-example';
import { runNpmScript, type RunningScript } from '../helpers/npm-script';
import { SpawnedExample } from '../helpers/spawned-example';
import { Cleanup } from '../helpers/tcp-fixtures';

// The hub, Bob and Alice of examples/ as three real processes, talking over TCP on 127.0.0.1, driven and
// read the way a user would: arguments, environment, standard input, Ctrl-C.

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Startup under a loaded 2-core machine (ts-node, transpile-only) takes a few seconds; this bounds it. */
const START_MS = 30_000;
/** Anything after startup (a handshake, an echo, a graceful stop) is quick. */
const STEP_MS = 10_000;

const PROMPT = "Type a message for Bob's echoer:";
const ESTABLISHED = '[✓] End-to-end encrypted secure channel was established.';
const ASK_ADDRESS = 'Enter the forwarding address for Bob: ';

/** Lines typed into Alice: plain, with punctuation, with spaces inside, and beyond ASCII. */
const MESSAGES = ['Hello Bob!', 'second line, with  two spaces', 'ünïcödé ✓ and emoji 🔐', 'Bye.'];

/** A pattern for exactly `line`. */
function exactly(line: string): RegExp {
  return new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

function start(name: 'hub' | 'bob' | 'alice', options: { args?: string[]; env?: NodeJS.ProcessEnv } = {}) {
  const program = SpawnedExample.start(`examples/${name}.ts`, {
    args: options.args,
    // Warnings and errors only: a clean run writes nothing to standard error.
    env: { SEALROUTE_LOG: 'warn', ...options.env },
  });
  cleanup.add(() => program.stop('SIGKILL', 2_000));
  return program;
}

/**
 * Runs the whole story once: Bob and Alice are already started; Bob's forwarding address is typed into
 * Alice, then every message, each answered by the echo before the next is typed, and finally end of input.
 */
async function converse(hub: string, bob: SpawnedExample, alice: SpawnedExample): Promise<void> {
  await bob.waitForLine(exactly(`[✓] RemoteForwarder was created on the node at: ${hub}`), START_MS);
  await bob.waitForLine(/^Forwarding address for Bob is:$/, STEP_MS);
  const forwardingAddress = (await bob.waitForLine(/^fwd\.[0-9a-f]{32}$/, STEP_MS))[0];

  await alice.waitForLine(exactly(ASK_ADDRESS), START_MS);
  alice.write(forwardingAddress);
  await alice.waitForLine(exactly(ASK_ADDRESS + ESTABLISHED), STEP_MS);
  await alice.waitForLine(exactly(PROMPT), STEP_MS);
  // Later prompts follow each echo; the transcript below checks there is one before every line typed.
  for (const message of MESSAGES) {
    alice.write(message);
    await alice.waitForLine(exactly(`Alice received an echo: ${message}`), STEP_MS);
    await bob.waitForLine(exactly(`[✓] Address: 0#echoer, Received: ${message}`), STEP_MS);
  }
  alice.endInput();
  expect(await within(alice.exited, STEP_MS, 'Alice to exit at end of input')).toEqual({
    code: 0,
    signal: null,
  });

  // Line for line: the prompt without a newline, the channel, then one prompt and one echo per line.
  expect(alice.stdout).toBe(
    [
      ASK_ADDRESS + ESTABLISHED,
      ...MESSAGES.flatMap((message) => [PROMPT, `Alice received an echo: ${message}`]),
      PROMPT,
      '',
    ].join('\n'),
  );
  expect(bob.stdout).toBe(
    [
      `[✓] RemoteForwarder was created on the node at: ${hub}`,
      'Forwarding address for Bob is:',
      forwardingAddress,
      ...MESSAGES.map((message) => `[✓] Address: 0#echoer, Received: ${message}`),
      '',
    ].join('\n'),
  );
}

describe('the hub, Bob and Alice as processes', () => {
  it('echo every line Alice types through the hub; end of input ends Alice, Ctrl-C the others, all with 0', async () => {
    const hub = start('hub', { args: ['127.0.0.1:0'] });
    const hubAddress = (await hub.waitForLine(/^Hub listening on (127\.0\.0\.1:[1-9]\d*)$/, START_MS))[1]!;
    // Two terminals opened at once: Alice waits at her prompt while Bob registers.
    const bob = start('bob', { args: [hubAddress] });
    const alice = start('alice', { args: [hubAddress] });

    await converse(hubAddress, bob, alice);

    expect(await bob.stop('SIGINT', STEP_MS)).toEqual({ code: 0, signal: null });
    expect(await hub.stop('SIGINT', STEP_MS)).toEqual({ code: 0, signal: null });
    for (const program of [hub, bob, alice]) expect(program.stderr).toBe('');
    expect(hub.stdout).toBe(`Hub listening on ${hubAddress}\n`);
  }, 90_000);

  it('take the hub address from SEALROUTE_HUB when no argument is given', async () => {
    const hub = start('hub', { env: { SEALROUTE_HUB: '127.0.0.1:0' } });
    const hubAddress = (await hub.waitForLine(/^Hub listening on (127\.0\.0\.1:[1-9]\d*)$/, START_MS))[1]!;
    const bob = start('bob', { env: { SEALROUTE_HUB: hubAddress } });
    const alice = start('alice', { env: { SEALROUTE_HUB: hubAddress } });

    await converse(hubAddress, bob, alice);

    expect(await bob.stop('SIGINT', STEP_MS)).toEqual({ code: 0, signal: null });
    expect(await hub.stop('SIGINT', STEP_MS)).toEqual({ code: 0, signal: null });
    for (const program of [hub, bob, alice]) expect(program.stderr).toBe('');
  }, 90_000);
});

describe('npm run demo', () => {
  let demo: RunningScript | undefined;
  afterEach(() => demo?.kill());

  it('runs the story through a recording proxy, exits 0 and finds no plaintext in what crossed the hub', async () => {
    // As a user runs it, except that ts-node skips type-checking the demo and the three programs it starts
    // (four type-checks would triple the run time); `tsc --noEmit` type-checks them all.
    demo = runNpmScript('demo', {
      timeoutMs: 100_000,
      env: { TS_NODE_TRANSPILE_ONLY: 'true', SEALROUTE_LOG: 'warn' },
    });
    const result = await demo.result;
    if (result.code !== 0) throw new Error(describeRun(result));
    for (const message of ['Hello Bob!', 'The hub only ever sees ciphertext.', 'Bye for now.']) {
      expect(result.lines).toContain(`[✓] not found: ${JSON.stringify(message)}`);
    }
    expect(result.lines).toContain('Alice exited with code 0 after 3 echoes.');
    expect(result.lines).toContain(
      'The hub relayed every message and saw none of them: end-to-end encryption holds.',
    );
    expect(result.stdout).not.toContain('FOUND in clear');
    expect(result.stdout).not.toContain('Demo FAILED');
    expect(result.stderr).toBe('');
  }, 110_000);
});
