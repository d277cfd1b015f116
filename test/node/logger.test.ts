import { spawn } from 'node:child_process';
import path from 'node:path';
import { formatLogLine, logFormat } from '../../src/node/logger';
import { scaled } from '../helpers/slowdown';

describe('defaultLogger', () => {
  it(
    'lets a process exit when the reader of its standard error has gone (EPIPE)',
    async () => {
      const child = spawn(
        process.execPath,
        ['-r', 'ts-node/register/transpile-only', path.join(__dirname, 'fixtures', 'log-then-exit.ts')],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stderr.destroy(); // the reader goes away before anything is logged
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const killer = setTimeout(() => child.kill('SIGKILL'), scaled(15_000));
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      clearTimeout(killer);
      expect(code).toBe(0);
      expect(out).toContain('logged');
    },
    scaled(20_000),
  );
});

/** Runs fixtures/log-levels.ts with `env` and resolves with its standard error (not a terminal). */
async function logLevelsStderr(env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', path.join(__dirname, 'fixtures', 'log-levels.ts')],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...withoutLogSettings(), ...env } },
  );
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), scaled(15_000));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(killer);
  expect(code).toBe(0);
  return err;
}

function withoutLogSettings(): NodeJS.ProcessEnv {
  const { SEALROUTE_LOG: _level, SEALROUTE_LOG_FORMAT: _format, ...rest } = process.env;
  return rest;
}

describe('defaultLogger output', () => {
  it(
    'writes JSON lines at warn and above by default when standard error is not a terminal',
    async () => {
      const lines = (await logLevelsStderr({})).trim().split('\n');
      const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(entries.map((e) => [e.level, e.msg, e.component])).toEqual([
        [40, 'a warning', 'tcp'],
        [50, 'an error', 'tcp'],
      ]);
      expect(entries[0]).toMatchObject({ name: 'sealroute', remote: '127.0.0.1:4000', attempts: 3 });
    },
    scaled(30_000),
  );

  it(
    'takes its level from SEALROUTE_LOG and its format from SEALROUTE_LOG_FORMAT',
    async () => {
      const lines = (await logLevelsStderr({ SEALROUTE_LOG: 'info', SEALROUTE_LOG_FORMAT: 'pretty' })).split(
        '\n',
      );
      expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}tcp: an info entry remote=127\.0\.0\.1:4000$/);
      expect(lines[1]).toMatch(
        /^\d\d:\d\d:\d\d\.\d{3} WARN {2}tcp: a warning remote=127\.0\.0\.1:4000 attempts=3$/,
      );
      expect(lines[2]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} ERROR tcp: an error$/);
      expect(lines[3]).toBe('    Error: boom');
      expect(lines[4]).toMatch(/^ {8}at /);
    },
    scaled(30_000),
  );
});

describe('logFormat', () => {
  it('is pretty on a terminal and JSON elsewhere, unless SEALROUTE_LOG_FORMAT says otherwise', () => {
    expect(logFormat(undefined, true)).toBe('pretty');
    expect(logFormat(undefined, false)).toBe('json');
    expect(logFormat('json', true)).toBe('json');
    expect(logFormat('pretty', false)).toBe('pretty');
    expect(logFormat('fancy', false)).toBe('json');
  });
});

describe('formatLogLine', () => {
  const entry = {
    level: 40,
    time: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
    pid: 1,
    hostname: 'h',
    name: 'sealroute',
  };

  it('shows time, level, component and worker, message, then the other fields', () => {
    const line = JSON.stringify({
      ...entry,
      component: 'hub',
      worker: '0#fwd',
      msg: 'dropped',
      limits: { a: 1 },
    });
    expect(formatLogLine(line)).toBe('03:04:05.006 WARN  hub 0#fwd: dropped limits={"a":1}');
  });

  it('colours the level on a terminal that has colours', () => {
    expect(formatLogLine(JSON.stringify({ ...entry, msg: 'm' }), true)).toBe(
      '\u001b[90m03:04:05.006\u001b[0m \u001b[33mWARN \u001b[0m m',
    );
  });

  it('returns a line that is not JSON as it is', () => {
    expect(formatLogLine('not json\n')).toBe('not json');
  });
});
