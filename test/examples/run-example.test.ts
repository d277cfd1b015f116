import { runExample, startExample } from '../helpers/run-example';

const FIXTURE = 'test/examples/fixtures/process.js';

describe('runExample', () => {
  it('reports the exit code, trimmed non-empty stdout lines and stderr', async () => {
    const result = await runExample(FIXTURE, { args: ['exit', '3'], timeoutMs: 20_000 });
    expect(result).toMatchObject({ code: 3, timedOut: false, lines: ['line one', 'line two'] });
    expect(result.stderr).toBe('to stderr\n');
  });

  it('kills a process that runs past its timeout', async () => {
    const result = await runExample(FIXTURE, { args: ['hang'], timeoutMs: 500 });
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL', code: null });
  });
});

describe('startExample', () => {
  it('waits for a line, then stops the process gracefully', async () => {
    const server = startExample(FIXTURE, { args: ['serve'] });
    try {
      await expect(server.waitForLine(/^ready$/, 20_000)).resolves.toBe('ready');
    } finally {
      const exit = await server.stop('SIGINT', 5_000);
      expect(exit).toEqual({ code: 0, signal: null });
    }
    expect(server.stdout()).toBe('ready\nbye\n');
  });

  it('rejects waitForLine when the process exits without printing it', async () => {
    const quitter = startExample(FIXTURE, { args: ['exit', '0'] });
    await expect(quitter.waitForLine(/never printed/, 20_000)).rejects.toThrow(/exited before printing/);
    await quitter.stop();
  });

  it('rejects waitForLine after its timeout', async () => {
    const server = startExample(FIXTURE, { args: ['serve'] });
    try {
      await expect(server.waitForLine(/never printed/, 300)).rejects.toThrow(/within 300 ms/);
    } finally {
      await server.stop('SIGKILL');
    }
  });
});
