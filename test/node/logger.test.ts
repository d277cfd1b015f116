import { spawn } from 'node:child_process';
import path from 'node:path';
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
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      clearTimeout(killer);
      expect(code).toBe(0);
      expect(out).toContain('logged');
    },
    scaled(20_000),
  );
});
